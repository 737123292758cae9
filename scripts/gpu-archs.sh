# The architecture models gpu-bundle.sh carries and gpu-check.sh tests.
GPU_ARCHS="gemma2 gemma3 gpt2"
