// oracle-bench-vulkan.mjs: llama.cpp's speed on its Vulkan backend, all layers
// offloaded, through the oracle's node-llama-cpp with the Vulkan prebuilt
// added (a development tool, never a dependency). Measures as the oracle's
// bench.mjs (llama-bench style):
//  - pp: the KV cache cleared, ONE llama_decode of --pp tokens (BOS and random
//        ids, fixed seed), logits for the last token only;
//  - tg: the KV cache cleared, an 8-token prompt evaluated untimed, then --tg
//        single-token decodes, each picking the next token greedily;
// each the median of --reps runs after one untimed warm-up. It checks that
// llama.cpp really runs on a Vulkan device: the device names and the
// "offloaded N/N layers to GPU" line of its log are printed, and it exits
// with an error when no layer was offloaded.
//
// Install (once): copy the oracle and add the Vulkan prebuilt,
//   cp -a /tmp/oracle /tmp/oracle-vk
//   (cd /tmp/oracle-vk && npm install --no-audit --no-fund @node-llama-cpp/linux-x64-vulkan@3.22.1)
//
// Run (GGML_VK_VISIBLE_DEVICES=0 makes ggml take lavapipe, which it skips
// otherwise as a CPU device; the script sets it when unset):
//   ORACLE=/tmp/oracle-vk GGML_VK_VISIBLE_DEVICES=0 node scripts/oracle-bench-vulkan.mjs MODEL.gguf \
//       [--pp 128] [--tg 32] [--reps 3] [--threads 2] [--batch 512] [--seed 42] [--ctx 1024]
//       [--flash-attn off|on|auto] [--log FILE]
//
// Prints one JSON line: {model, gpu, devices, offloaded, pp128_tok_s,
// tg32_tok_s, native_pp_tok_s, native_tg_tok_s (llama.cpp's own counters),
// pp_reps, tg_reps, cpu_util_pp, cpu_util_tg, ...}.
//
// Measured against `conveyor bench --backend vulkan -t 2 -p 128 -n 32 -r 3
// -m MODEL.gguf`, back to back on the same file (README, Backends: vulkan):
//   for f in /tmp/smallq-110m-Q4_0.gguf /tmp/vkprefill-q8.gguf /tmp/kq45-110m-q4km.gguf \
//            /tmp/kq236-110m-Q6_K.gguf; do
//     uptime
//     conveyor bench --backend vulkan -t 2 -p 128 -n 32 -r 3 -m $f
//     ORACLE=/tmp/oracle-vk GGML_VK_VISIBLE_DEVICES=0 node scripts/oracle-bench-vulkan.mjs $f --pp 128 --tg 32 --reps 3
//   done
import {writeFileSync} from "node:fs";
import {performance} from "node:perf_hooks";
import {join} from "node:path";
import {pathToFileURL} from "node:url";

process.env.GGML_VK_VISIBLE_DEVICES ??= "0";
const oracle = process.env.ORACLE ?? "/tmp/oracle-vk";
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(join(oracle, "node_modules/node-llama-cpp/dist/index.js")).href);

function parseArgs(argv) {
    const a = {model: null, threads: 2, batch: 512, pp: 128, tg: 32, tgPrompt: 8, reps: 3, seed: 42, ctx: 1024,
        flashAttn: "off", log: null};
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i];
        const num = () => parseInt(argv[++i], 10);
        if (k === "--threads" || k === "-t") a.threads = num();
        else if (k === "--batch" || k === "-b") a.batch = num();
        else if (k === "--pp" || k === "-p") a.pp = num();
        else if (k === "--tg" || k === "-n") a.tg = num();
        else if (k === "--tg-prompt") a.tgPrompt = num();
        else if (k === "--reps" || k === "-r") a.reps = num();
        else if (k === "--seed") a.seed = num();
        else if (k === "--ctx") a.ctx = num();
        else if (k === "--flash-attn") a.flashAttn = argv[++i];
        else if (k === "--log") a.log = argv[++i];
        else if (a.model == null && !k.startsWith("-")) a.model = k;
        else throw new Error(`unknown argument ${k}`);
    }
    if (a.model == null) throw new Error("usage: node oracle-bench-vulkan.mjs MODEL.gguf [--pp 128] [--tg 32] [--reps 3]");
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
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const args = parseArgs(process.argv.slice(2));
const logLines = [];
const llama = await getLlama({
    gpu: "vulkan", build: "never", usePrebuiltBinaries: true, skipDownload: true, progressLogs: false,
    logLevel: LlamaLogLevel.info, logger: (level, message) => { logLines.push(message.endsWith("\n") ? message : message + "\n"); },
    maxThreads: args.threads,
});
if (llama.gpu !== "vulkan") throw new Error(`node-llama-cpp loaded gpu=${llama.gpu}, not vulkan`);
const devices = await llama.getGpuDeviceNames();

const tLoad0 = performance.now();
const model = await llama.loadModel({modelPath: args.model, gpuLayers: "max"});
const context = await model.createContext({
    contextSize: args.ctx, batchSize: args.batch, sequences: 1, threads: args.threads,
    flashAttention: args.flashAttn === "on" ? true : args.flashAttn === "off" ? false : "auto",
    performanceTracking: true,
});
const loadS = (performance.now() - tLoad0) / 1000;
const offloadLine = logLines.join("").match(/offloaded (\d+)\/(\d+) layers to GPU/);
if (!offloadLine || offloadLine[1] === "0")
    throw new Error(`llama.cpp offloaded no layer to the GPU (${offloadLine ? offloadLine[0] : "no offload line in its log"})`);
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
const ppTokens = [bos, ...Array.from({length: args.pp - 1}, randTok)];
const tgPromptTokens = [bos, ...Array.from({length: args.tgPrompt - 1}, randTok)];
const greedy = {generateNext: {token: true, options: {temperature: 0}}};
const withGreedyLast = (toks) => toks.map((t, i) => (i === toks.length - 1 ? [t, greedy] : t));

async function runPP() {
    await sequence.clearHistory();
    await perf();
    const c0 = cpuSeconds(), t0 = performance.now();
    await sequence.controlledEvaluate(withGreedyLast(ppTokens));
    const wall = (performance.now() - t0) / 1000, cpu = cpuSeconds() - c0;
    const p = await perf();
    return {tok_s: args.pp / wall, cpu_util: cpu / wall, native_tok_s: p.ppN / (p.ppMs / 1000)};
}

async function runTG(n) {
    await sequence.clearHistory();
    let res = await sequence.controlledEvaluate(withGreedyLast(tgPromptTokens));
    let tok = res[tgPromptTokens.length - 1].next.token;
    await perf();
    const c0 = cpuSeconds(), t0 = performance.now();
    for (let i = 0; i < n; i++) {
        res = await sequence.controlledEvaluate([[tok, greedy]]);
        tok = res[0].next.token;
    }
    const wall = (performance.now() - t0) / 1000, cpu = cpuSeconds() - c0;
    const p = await perf();
    return {tok_s: n / wall, cpu_util: cpu / wall, native_tok_s: p.tgN / (p.tgMs / 1000)};
}

await runPP();
await runTG(4);
const pp = [], tg = [];
for (let r = 0; r < args.reps; r++) pp.push(await runPP());
for (let r = 0; r < args.reps; r++) tg.push(await runTG(args.tg));

const log = logLines.join("");
const vkLines = log.split("\n").filter((l) => /ggml_vulkan: \d+ =|Vulkan\d* model buffer size|using device Vulkan/.test(l))
    .map((l) => l.replace(/\s+/g, " ").trim());
const out = {
    model: args.model.split("/").pop(),
    gpu: llama.gpu,
    devices,
    offloaded: offloadLine[0],
    [`pp${args.pp}_tok_s`]: round(median(pp.map((x) => x.tok_s))),
    [`tg${args.tg}_tok_s`]: round(median(tg.map((x) => x.tok_s))),
    native_pp_tok_s: round(median(pp.map((x) => x.native_tok_s))),
    native_tg_tok_s: round(median(tg.map((x) => x.native_tok_s))),
    pp_reps: pp.map((x) => round(x.tok_s)),
    tg_reps: tg.map((x) => round(x.tok_s)),
    cpu_util_pp: round(median(pp.map((x) => x.cpu_util))),
    cpu_util_tg: round(median(tg.map((x) => x.cpu_util))),
    load_s: round(loadS, 3),
    threads: args.threads, batch: args.batch, ctx: context.contextSize, flash_attn: args.flashAttn, reps: args.reps,
    vulkan_log: vkLines,
    llama_cpp: `${llama.llamaCppRelease?.release ?? "?"} via node-llama-cpp prebuilt (vulkan)`,
};
if (args.log) writeFileSync(args.log, log);
console.log(JSON.stringify(out));
await context.dispose();
await model.dispose();
await llama.dispose();
