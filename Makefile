# Conveyor: a GPU-accelerated LLM inference engine in Go.

# MODEL empty: the stories260K built into the binary (models/stories260k).
MODEL   ?=
PROMPT  ?= Once upon a time
N       ?= 256
TEMP    ?= 0
BACKEND ?= auto
GO      ?= go

.PHONY: all build run test test-race vet lint fuzz shaders shaders-check bench clean

all: build

build:
	$(GO) build -o bin/conveyor ./cmd/conveyor

# The main job: generate a story (greedy by default; TEMP=0.8 samples).
run:
	$(GO) run ./cmd/conveyor run $(if $(MODEL),-m "$(MODEL)") -p "$(PROMPT)" -n $(N) --temp $(TEMP) --backend $(BACKEND)

# Everything CI runs: vet, stale-shader check, the whole suite with the Vulkan
# validation layer on (lavapipe where there is no GPU), the race detector, and
# short fuzzing of the parsers.
test: vet shaders-check
	CONVEYOR_VK_VALIDATE=1 $(GO) test -count=1 -timeout 25m ./...
	$(MAKE) test-race
	$(MAKE) fuzz FUZZTIME=20s

test-race:
	CONVEYOR_VK_VALIDATE=1 $(GO) test -count=1 -timeout 25m -race ./backend/... ./engine/... ./model/... ./cgo/...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

FUZZTIME ?= 1m
# The server's request decoding and chat-template rendering (random messages
# against the builtin templates and those in $$CONVEYOR_TESTDATA/chat-templates,
# when it is there) are fuzzed briefly.
FUZZTIME_SHORT ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./gguf
	$(GO) test -run '^$$' -fuzz '^FuzzEncode$$' -fuzztime $(FUZZTIME) ./tokenizer
	$(GO) test -run '^$$' -fuzz '^FuzzChatRequest$$' -fuzztime $(FUZZTIME_SHORT) ./serve
	$(GO) test -run '^$$' -fuzz '^FuzzCompletionRequest$$' -fuzztime $(FUZZTIME_SHORT) ./serve
	$(GO) test -run '^$$' -fuzz '^FuzzRenderTemplates$$' -fuzztime $(FUZZTIME_SHORT) ./chat

# SPIR-V is committed beside its GLSL source; this rebuilds it with glslc.
shaders:
	sh shaders/build.sh

shaders-check:
	sh shaders/build.sh check

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2x ./kernels ./tokenizer

clean:
	rm -rf bin
