// Node entry: compiles the WebAssembly module synchronously from the package's file, then
// exports everything `@burgee/wasm` does.
import { readFileSync } from 'node:fs';
import { initSync } from './burgee_wasm.js';

initSync({ module: readFileSync(new URL('./burgee_wasm_bg.wasm', import.meta.url)) });

export * from './index.js';
