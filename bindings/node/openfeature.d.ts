import type { EvaluationContext, JsonValue, Provider, ProviderMetadata, ResolutionDetails, OpenFeatureEventEmitter, Hook } from '@openfeature/server-sdk';
import type { Client, ClientOptions, ErrorCode } from './index';

/** Options of a BurgeeProvider: an existing client, or the options of a new one. */
export type BurgeeProviderOptions = { client: Client } | (ClientOptions & { /** ms, default `DEFAULTS.readyTimeoutMs` */ readyTimeoutMs?: number });

/** OpenFeature provider (server SDK) backed by a Burgee client. */
export declare class BurgeeProvider implements Provider {
  constructor(options: BurgeeProviderOptions);
  readonly metadata: ProviderMetadata;
  readonly runsOn: 'server';
  readonly hooks: Hook[];
  readonly events: OpenFeatureEventEmitter;
  /** The client, once initialized (or the one passed in). */
  client: Client | null;
  initialize(context?: EvaluationContext): Promise<void>;
  onClose(): Promise<void>;
  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>>;
  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>>;
  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>>;
  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>>;
}

/** Burgee error code → OpenFeature error code, for every Burgee code. */
export declare const OPENFEATURE_ERROR_CODES: Readonly<Record<ErrorCode, 'PARSE_ERROR' | 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'GENERAL'>>;

/** An OpenFeature context as a Burgee context object (Dates → RFC 3339, nulls dropped). */
export declare function burgeeContext(context: EvaluationContext | undefined): Record<string, string | number | boolean | string[]>;
