// The workerd harness of the worker tests: a config.capnp for the example Cloudflare worker
// ($BURGEE_REPO/examples/cloudflare-worker) with the installed package's modules, and workerd
// (npm `workerd`) started on it with one loopback socket per worker.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
const { REPO } = require('@burgee/test-support');

const EXAMPLE = path.join(REPO, 'examples/cloudflare-worker');
const PKG_DIR = path.dirname(fileURLToPath(import.meta.resolve('@burgee/wasm')));
const PKG_NAME = '@burgee/wasm';

/** `compatibility_date` and `compatibility_flags` of the example's wrangler.toml, and its main. */
function wranglerSettings() {
  const toml = fs.readFileSync(path.join(EXAMPLE, 'wrangler.toml'), 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml);
  const main = /^main\s*=\s*"([^"]+)"/m.exec(toml);
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml);
  assert.ok(date && main, 'wrangler.toml names main and compatibility_date');
  return {
    main: main[1],
    date: date[1],
    flags: flags ? [...flags[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [],
  };
}

/** The .js/.mjs files under `dir`, as /-separated paths relative to `base`. */
function filesUnder(dir, base = dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p, base);
    return /\.m?js$/.test(e.name) ? [path.relative(base, p).split(path.sep).join('/')] : [];
  });
}

/** The installed directory of the package's dependency `dep` (next to the package, or inside it). */
function depDirOf(dep) {
  for (const dir of [path.join(PKG_DIR, 'node_modules', dep), path.join(PKG_DIR, '..', '..', dep), path.join(PKG_DIR, '..', dep)]) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error(`dependency ${dep} of the package is not installed`);
}

/**
 * Writes `config.capnp` (and the files it embeds) into `dir`: one workerd service per entry of
 * `workers` (`{name, bindings}`), each with its own socket on 127.0.0.1 (port chosen by the
 * system, reported over --control-fd) whose `cf-blob` request header becomes `request.cf`,
 * and fetches allowed to loopback addresses only.
 *
 * Module names: the example's modules by their path under its main's directory (the main
 * first), the package's files as `@burgee/wasm/<file>` (the `.wasm` as a compiled
 * WebAssembly module), and for each `exports` entry of its package.json that workers may use
 * a module named like the import (`@burgee/wasm`, `@burgee/wasm/openfeature-server`)
 * re-exporting the file. workerd resolves a relative import against the importing module's
 * name, so the package's own `./client.js` imports find `@burgee/wasm/client.js`.
 * `defaults`: the export targets (`./index.js`) that have a default export (`export *` does
 * not re-export it).
 */
export function writeConfig(dir, workers, defaults) {
  const w = wranglerSettings();
  const srcDir = path.join(EXAMPLE, path.dirname(w.main));
  const mainRel = path.basename(w.main);
  const modules = [];
  const embed = (name, kind, from, text) => {
    const file = `m${modules.length}${path.extname(name) || '.js'}`;
    if (text !== undefined) fs.writeFileSync(path.join(dir, file), text);
    else fs.copyFileSync(from, path.join(dir, file));
    modules.push(`(name = ${JSON.stringify(name)}, ${kind} = embed ${JSON.stringify(file)})`);
  };
  const exampleFiles = filesUnder(srcDir).sort((a, b) => (a === mainRel ? -1 : b === mainRel ? 1 : a.localeCompare(b)));
  for (const rel of exampleFiles) embed(rel, 'esModule', path.join(srcDir, rel));

  const pkg = JSON.parse(fs.readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8'));
  // node.js reads the .wasm with node:fs; workers import the module instead.
  const forWorkers = (file) => file !== 'node.js';
  for (const file of fs.readdirSync(PKG_DIR).filter((f) => f.endsWith('.js') && forWorkers(f))) {
    embed(`${PKG_NAME}/${file}`, 'esModule', path.join(PKG_DIR, file));
  }
  embed(`${PKG_NAME}/burgee_wasm_bg.wasm`, 'wasm', path.join(PKG_DIR, 'burgee_wasm_bg.wasm'));
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const file = typeof target === 'string' ? target : target.default;
    if (!file.endsWith('.js') || !forWorkers(file.slice(2))) continue;
    const name = sub === '.' ? PKG_NAME : `${PKG_NAME}/${sub.slice(2)}`;
    const rel = path.posix.relative(path.posix.dirname(name), `${PKG_NAME}/${file.slice(2)}`);
    const withDefault = defaults.has(file) ? `export { default } from './${rel}';\n` : '';
    embed(name, 'esModule', null, `export * from './${rel}';\n${withDefault}`);
  }

  // The package's dependencies (eventsource-parser), as a bundler would resolve them. workerd
  // resolves every specifier against the importing module's name, so the package's
  // `import ... from 'eventsource-parser'` asks for `@burgee/wasm/eventsource-parser`: that
  // module re-exports the dependency's entry, its files embedded under the same prefix.
  for (const dep of Object.keys(pkg.dependencies || {})) {
    const depDir = depDirOf(dep);
    const depPkg = JSON.parse(fs.readFileSync(path.join(depDir, 'package.json'), 'utf8'));
    for (const rel of filesUnder(depDir).filter((f) => !f.startsWith('node_modules/') && f.endsWith('.js'))) {
      embed(`${PKG_NAME}/${dep}/${rel}`, 'esModule', path.join(depDir, rel));
    }
    const entry = depPkg.exports['.'].default.slice(2);
    embed(`${PKG_NAME}/${dep}`, 'esModule', null, `export * from './${dep}/${entry}';\n`);
  }

  const services = [];
  const sockets = [];
  const consts = [];
  workers.forEach((wk, i) => {
    services.push(`(name = ${JSON.stringify(wk.name)}, worker = .worker${i})`);
    sockets.push(`(name = ${JSON.stringify(wk.name)}, address = "127.0.0.1:0", http = (cfBlobHeader = "cf-blob"), service = ${JSON.stringify(wk.name)})`);
    const bindings = Object.entries(wk.bindings).map(([k, v]) => `(name = ${JSON.stringify(k)}, text = ${JSON.stringify(String(v))})`);
    consts.push(`const worker${i} :Workerd.Worker = (
  modules = .modules,
  bindings = [
    ${bindings.join(',\n    ')}
  ],
  compatibilityDate = ${JSON.stringify(w.date)},
  compatibilityFlags = [${w.flags.map((f) => JSON.stringify(f)).join(', ')}],
  globalOutbound = "loopback",
);`);
  });
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${services.join(',\n    ')},
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [
    ${sockets.join(',\n    ')}
  ],
);

const modules :List(Workerd.Worker.Module) = [
  ${modules.join(',\n  ')}
];

${consts.join('\n\n')}
`;
  fs.writeFileSync(path.join(dir, 'config.capnp'), config);
  return path.join(dir, 'config.capnp');
}

/** The `exports` targets of the installed package that have a default export (imported in
 * Node to ask; a target whose optional peer is missing counts as having none). */
export async function defaultExports() {
  const pkg = JSON.parse(fs.readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8'));
  const out = new Set();
  for (const target of Object.values(pkg.exports)) {
    const file = typeof target === 'string' ? target : target.default;
    if (!file.endsWith('.js')) continue;
    try {
      if ('default' in (await import(pathToFileURL(path.join(PKG_DIR, file)).href))) out.add(file);
    } catch {
      // e.g. openfeature-web.js without @openfeature/web-sdk installed
    }
  }
  return out;
}

/** Starts workerd on `configPath`; resolves `{proc, ports: {socketName: port}, log()}` once
 * every socket listens. */
export async function startWorkerd(configPath, socketCount) {
  const bin = require('workerd').default;
  const proc = spawn(bin, ['serve', configPath, '--control-fd=3'], {
    cwd: path.dirname(configPath),
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const ports = {};
  await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`workerd did not listen within 10 s:\n${log}`));
    }, 10000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`workerd exited with ${code}:\n${log}`));
    });
    proc.stdio[3].on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (msg.event === 'listen') ports[msg.socket] = msg.port;
        if (Object.keys(ports).length === socketCount) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  return { proc, ports, log: () => log };
}

/** SIGKILLs `proc` (unless it has exited); resolves once it is gone. */
export function kill(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}
