// oracle-embed-bench.mjs: llama.cpp's embedding speed on a GGUF, through the
// oracle's node-llama-cpp (see ../shared/oracle/README.md; install it first,
// e.g. into /tmp/oracle). It embeds --inputs inputs of --tokens tokens each
// ([CLS], random word ids, [SEP], like engine's BenchmarkEmbedBertBase), one
// after another through one embedding context (node-llama-cpp's
// getEmbeddingFor: one llama_decode per input, the sequence cleared between
// inputs), after one untimed warm-up input, and reports the median of --reps
// runs. A development tool, never a dependency.
//
//   ORACLE=/tmp/oracle node scripts/oracle-embed-bench.mjs MODEL.gguf
//       [--threads 2] [--inputs 64] [--tokens 128] [--reps 3] [--seed 1]
//       [--cls 101] [--sep 102]
//
// Prints one JSON line: {model, threads, inputs, tokens, embeddings_s,
// tokens_s, runs_s (wall seconds of each run), cpu_s (process CPU seconds
// of each run), embeddings_per_cpu_s, cpu_variant, dim}.
import {performance} from "node:perf_hooks";
import {join} from "node:path";
import {pathToFileURL} from "node:url";

const oracle = process.env.ORACLE ?? "/tmp/oracle";
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(join(oracle, "node_modules/node-llama-cpp/dist/index.js")).href);

function parseArgs(argv) {
    const a = {model: null, threads: 2, inputs: 64, tokens: 128, reps: 3, seed: 1, cls: 101, sep: 102};
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i];
        const num = () => parseInt(argv[++i], 10);
        if (k === "--threads" || k === "-t") a.threads = num();
        else if (k === "--inputs") a.inputs = num();
        else if (k === "--tokens") a.tokens = num();
        else if (k === "--reps" || k === "-r") a.reps = num();
        else if (k === "--seed") a.seed = num();
        else if (k === "--cls") a.cls = num();
        else if (k === "--sep") a.sep = num();
        else if (a.model == null && !k.startsWith("-")) a.model = k;
        else throw new Error(`unknown argument ${k}`);
    }
    if (a.model == null) throw new Error("usage: node oracle-embed-bench.mjs MODEL.gguf [--threads 2] [--inputs 64] [--tokens 128] [--reps 3]");
    return a;
}

// mulberry32: the same token ids on every run.
function prng(seed) {
    let s = seed >>> 0;
    return () => {
        s = (s + 0x6D2B79F5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function cpuSeconds() {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
}

const median = xs => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

const a = parseArgs(process.argv.slice(2));
const llama = await getLlama({gpu: false, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: a.model});
const ctx = await model.createEmbeddingContext({threads: a.threads, contextSize: Math.max(512, a.tokens + 1), batchSize: Math.max(512, a.tokens)});

const rand = prng(a.seed);
const inputs = [];
for (let i = 0; i < a.inputs; i++) {
    const ids = [a.cls];
    while (ids.length < a.tokens - 1) ids.push(1996 + Math.floor(rand() * 28000));
    ids.push(a.sep);
    inputs.push(ids);
}

const warm = await ctx.getEmbeddingFor([...inputs[0]]);
const runs = [], cpus = [];
for (let r = 0; r < a.reps; r++) {
    const c0 = cpuSeconds(), t0 = performance.now();
    for (const ids of inputs) await ctx.getEmbeddingFor([...ids]);
    runs.push((performance.now() - t0) / 1000);
    cpus.push(cpuSeconds() - c0);
}
const wall = median(runs), cpu = median(cpus);
console.log(JSON.stringify({
    model: a.model, threads: a.threads, inputs: a.inputs, tokens: a.tokens,
    embeddings_s: +(a.inputs / wall).toFixed(3), tokens_s: +(a.inputs * a.tokens / wall).toFixed(1),
    embeddings_per_cpu_s: +(a.inputs / cpu).toFixed(3),
    runs_s: runs.map(x => +x.toFixed(3)), cpu_s: cpus.map(x => +x.toFixed(3)),
    cpu_variant: llama.buildType ?? null, dim: warm.vector.length,
}));
await ctx.dispose();
await model.dispose();
