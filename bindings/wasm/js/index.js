// @burgee/wasm: Burgee's evaluation core in WebAssembly, plus the I/O around it.
//
// Load the WebAssembly module once before anything else:
//   browsers:  `await init()` (fetches burgee_wasm_bg.wasm next to this file)
//   workers:   `import wasm from '@burgee/wasm/burgee_wasm_bg.wasm'; initSync({ module: wasm })`
//              (module workers refuse to compile WebAssembly from bytes at run time)
//   Node:      `import '@burgee/wasm/node'` (compiles it synchronously from the file)
export {
  default,
  default as init,
  initSync,
  Context,
  Snapshot,
  Engine,
  ConfigEngine,
  bucket,
  sensitiveDigest,
  errorCodes,
  openFeatureErrorCode,
  defaults,
  streamLimit,
} from './burgee_wasm.js';
export { Client, WorkerClient, WorkerConfigClient, BurgeeError, ErrorCode } from './client.js';
