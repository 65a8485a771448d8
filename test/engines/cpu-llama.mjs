// node-llama-cpp on the CPU with its prebuilt binaries only (no build, no download), llama.cpp's own
// log lines to stderr (the parent test shows them when something fails). Shared by the child scripts.

export async function cpuLlama() {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  return getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    usePrebuiltBinaries: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => process.stderr.write(`[llama.cpp ${level}] ${message.endsWith('\n') ? message : message + '\n'}`),
  });
}
