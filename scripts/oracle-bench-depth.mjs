// oracle-bench-depth.mjs: llama.cpp's speed after a long context, as
// llama-bench's -d / --n-depth, through the oracle's node-llama-cpp (see
// ../shared/oracle/README.md; install it first, e.g. into /tmp/oracle). The
// oracle's bench.mjs measures from an empty cache; this one prefills a
// context of --depth random tokens first (untimed, once), then measures
//  - pp: one llama_decode of --pp random tokens at positions depth..
//        (logits for the last only), the cache cut back to the context
//        before each run;
//  - tg: --tg single-token decodes at positions depth.., each picking the
//        next token greedily, the cache cut back to the context before each
//        run;
// each the median of --reps runs after one untimed warm-up, like
// `conveyor bench -d`. A development tool, never a dependency.
//
//   ORACLE=/tmp/oracle node scripts/oracle-bench-depth.mjs MODEL.gguf --depth 4096
//       [--threads 2] [--pp 512] [--tg 128] [--reps 3] [--batch 512] [--seed 42]
//       [--flash-attn off|on|auto]
//
// Prints one JSON line: {model, threads, depth, pp512_tok_s, tg128_tok_s,
// native_pp_tok_s, native_tg_tok_s (llama.cpp's own counters), ...}; --pp 0
// or --tg 0 skips that part.
import {performance} from "node:perf_hooks";
import {join} from "node:path";
import {pathToFileURL} from "node:url";

const oracle = process.env.ORACLE ?? "/tmp/oracle";
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(join(oracle, "node_modules/node-llama-cpp/dist/index.js")).href);

function parseArgs(argv) {
    const a = {model: null, threads: 2, batch: 512, pp: 512, tg: 128, depth: 0, reps: 3, seed: 42, flashAttn: "off"};
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i];
        const num = () => parseInt(argv[++i], 10);
        if (k === "--threads" || k === "-t") a.threads = num();
        else if (k === "--batch" || k === "-b") a.batch = num();
        else if (k === "--pp" || k === "-p") a.pp = num();
        else if (k === "--tg" || k === "-n") a.tg = num();
        else if (k === "--depth" || k === "-d") a.depth = num();
        else if (k === "--reps" || k === "-r") a.reps = num();
        else if (k === "--seed") a.seed = num();
        else if (k === "--flash-attn") a.flashAttn = argv[++i];
        else if (a.model == null && !k.startsWith("-")) a.model = k;
        else throw new Error(`unknown argument ${k}`);
    }
    if (a.model == null) throw new Error("usage: node oracle-bench-depth.mjs MODEL.gguf --depth N [--threads 2] [--pp 512] [--tg 128] [--reps 3]");
    if (a.pp > a.batch) throw new Error("--pp larger than --batch would split the prompt into several decodes");
    return a;
}

// mulberry32, as bench.mjs: the same token ids on every run.
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
const median = (xs) => { const s = [...xs].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const args = parseArgs(process.argv.slice(2));
const logLines = [];
const llama = await getLlama({
    gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, progressLogs: false,
    logLevel: LlamaLogLevel.info, logger: (level, message) => { logLines.push(message.endsWith("\n") ? message : message + "\n"); },
    maxThreads: args.threads,
});
const model = await llama.loadModel({modelPath: args.model, gpuLayers: 0});
const context = await model.createContext({
    contextSize: args.depth + Math.max(args.pp, args.tg) + 16, batchSize: args.batch, sequences: 1, threads: args.threads,
    flashAttention: args.flashAttn === "on" ? true : args.flashAttn === "off" ? false : "auto",
    performanceTracking: true,
});
const sequence = context.getSequence();
const nVocab = model.tokens.vocabSize ?? model.fileInsights?.vocabularySize ?? 32000;
const bos = model.tokens.bos;

// llama.cpp's own counters for the interval since the last call (see bench.mjs).
async function perf() {
    const from = logLines.length;
    await context.printTimings();
    const text = logLines.slice(from).join("");
    const grab = (re) => { const m = text.match(re); return m ? [parseFloat(m[1]), parseInt(m[2], 10)] : [NaN, NaN]; };
    const [ppMs, ppN] = grab(/prompt eval time\s*=\s*([\d.]+) ms\s*\/\s*(\d+) tokens/);
    const [tgMs, tgN] = grab(/\beval time\s*=\s*([\d.]+) ms\s*\/\s*(\d+) runs/);
    return {ppMs, ppN, tgMs, tgN};
}

const rnd = prng(args.seed);
const randTok = () => 3 + Math.floor(rnd() * (nVocab - 3));
const greedy = {generateNext: {token: true, options: {temperature: 0}}};
const withGreedyLast = (toks) => toks.map((t, i) => (i === toks.length - 1 ? [t, greedy] : t));

// The context: BOS and depth-1 random ids, evaluated once in batches of
// --batch; then the greedy token after it starts every tg run.
const t0 = performance.now();
const depthTokens = args.depth > 0 ? [bos, ...Array.from({length: args.depth - 1}, randTok)] : [];
let afterDepth = bos;
if (depthTokens.length > 0) {
    const res = await sequence.controlledEvaluate(withGreedyLast(depthTokens));
    afterDepth = res[depthTokens.length - 1].next.token;
}
const depthS = (performance.now() - t0) / 1000;
const ppTokens = Array.from({length: args.pp}, randTok);
if (args.depth === 0 && ppTokens.length > 0) ppTokens[0] = bos;

async function cutToDepth() {
    if (sequence.nextTokenIndex > args.depth)
        await sequence.eraseContextTokenRanges([{start: args.depth, end: sequence.nextTokenIndex}]);
}

async function runPP() {
    await cutToDepth();
    await perf();
    const t = performance.now();
    await sequence.controlledEvaluate(withGreedyLast(ppTokens));
    const wall = (performance.now() - t) / 1000;
    const p = await perf();
    return {tok_s: args.pp / wall, native_tok_s: p.ppN / (p.ppMs / 1000)};
}

async function runTG(n) {
    await cutToDepth();
    let tok = afterDepth;
    await perf();
    const t = performance.now();
    for (let i = 0; i < n; i++) {
        const res = await sequence.controlledEvaluate([[tok, greedy]]);
        tok = res[0].next.token;
    }
    const wall = (performance.now() - t) / 1000;
    const p = await perf();
    // A decode after an empty cache counts as a prompt eval in llama.cpp's
    // counters; after a context, as an eval.
    const [ms, cnt] = p.tgN > 0 ? [p.tgMs, p.tgN] : [p.ppMs, p.ppN];
    return {tok_s: n / wall, native_tok_s: cnt / (ms / 1000)};
}

const pp = [], tg = [];
if (args.pp > 0) {
    await runPP();
    for (let r = 0; r < args.reps; r++) pp.push(await runPP());
}
if (args.tg > 0) {
    await runTG(Math.min(4, args.tg));
    for (let r = 0; r < args.reps; r++) tg.push(await runTG(args.tg));
}
const out = {
    model: args.model.split("/").pop(),
    threads: args.threads,
    depth: args.depth,
    depth_prefill_s: round(depthS, 2),
    flash_attn: args.flashAttn,
    ctx: context.contextSize,
};
if (pp.length > 0) Object.assign(out, {[`pp${args.pp}_tok_s`]: round(median(pp.map((x) => x.tok_s))),
    native_pp_tok_s: round(median(pp.map((x) => x.native_tok_s))), pp_reps: pp.map((x) => round(x.tok_s))});
if (tg.length > 0) Object.assign(out, {[`tg${args.tg}_tok_s`]: round(median(tg.map((x) => x.tok_s))),
    native_tg_tok_s: round(median(tg.map((x) => x.native_tok_s))), tg_reps: tg.map((x) => round(x.tok_s))});
out.llama_cpp = `${llama.llamaCppRelease?.release ?? "?"} via node-llama-cpp prebuilt`;
console.log(JSON.stringify(out));
await context.dispose();
await model.dispose();
await llama.dispose();
