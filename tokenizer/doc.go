// Package tokenizer turns text into token ids and back, as llama.cpp does for
// the vocabulary stored in a GGUF file's tokenizer.ggml.* keys.
//
// Supported tokenizer.ggml.model values:
//
//   - "llama": SentencePiece (SPM) vocabularies of Llama 1/2, Mistral, Phi-3,
//     Gemma, TinyStories and kin (spm.go);
//   - "gpt2": byte-level BPE of Llama 3, Qwen2, GPT-2, Falcon, MPT, StarCoder,
//     DeepSeek and kin (bpe.go), with the pre-tokenizer that
//     tokenizer.ggml.pre names (pretok.go; an unknown name is an error, a
//     missing key is llama.cpp's fallback "default");
//   - "bert": WordPiece of BERT-style embedding models (wordpiece.go).
//
// All give exactly llama.cpp's ids on llama.cpp's test vectors for every vocab
// file available (shared/tokenizer-tests).
//
// # Encoding
//
// Encode first splits special tokens out of the text: user-defined tokens
// always, control and unknown tokens ("<s>", "</s>", "<unk>") only with
// parseSpecial; the longest special token is split out everywhere first, then
// the next, as in llama.cpp. Each run of text between them is segmented on its
// own: with AddSpacePrefix a space is put before it when it starts the input
// or follows a special token, spaces become "▁" (U+2581), and the SPM merge
// loop (spm.go) joins characters into tokens by score. Characters that end up
// in no token are emitted as their bytes' "<0xNN>" tokens (byte fallback), or
// as one UNK when the vocabulary has no byte tokens. The empty text has no
// tokens (only BOS when addSpecial asks for it).
//
// BPE and WordPiece segment each run of text between special tokens without
// any space prefix: BPE by its pre-tokenizer's words and merges, WordPiece by
// normalized words (lower case, accents stripped) and longest-match pieces.
//
// # Decoding
//
// A token's piece is its text with "▁" as a space; a byte token is its byte;
// control and unused tokens are nothing; an unknown token is "▅" (as llama.cpp
// prints it). Decode concatenates pieces, so byte tokens reassemble multi-byte
// characters. The leading-space rule: when the vocabulary adds a space prefix,
// the first token that has any text loses one leading space. llama.cpp's
// detokenizer strips it from the first token; we also look past a leading BOS
// (or any token without text) as llama2.c and SentencePiece do, so that both
// Decode(Encode(s, false, false)) and Decode(Encode(s, true, false)) give back
// s, and the prompt and generation of a stories model decode to the text
// llama.cpp and llama2.c print ("Once upon a time, ...", no leading space).
//
// For BPE, a NORMAL token's piece is its byte-level text mapped back to bytes
// (user-defined tokens are their text); there is no space rule, and
// Decode(Encode(s)) == s for any s whose bytes all have tokens (every byte
// for Llama 3 and GPT-2, all valid UTF-8 for most others). For WordPiece, "▁"
// starts a word and is a space, a continuation piece joins the word, the
// first space is dropped and so is the space before . , ! ?; case, accents
// and whitespace are not kept, so WordPiece does not round trip.
//
// For SPM, round trips hold for any input except text containing "▁" itself
// (it decodes as a space, in llama.cpp too) and, with parseSpecial, the special
// tokens' text (control tokens decode to nothing).
//
// StreamDecoder decodes a token at a time during generation and never returns
// part of a UTF-8 character.
//
// # Differences from llama.cpp
//
//   - Invalid UTF-8 in the input: each stray byte is a symbol of its own, where
//     llama.cpp lets a lead byte swallow the bytes after it (even part of an
//     escaped space), so ids can differ on such input; ours decode back to it.
//   - A leading BOS does not keep the prefix space in Decode (above).
//   - A vocabulary without a token for some byte gives UNK where llama.cpp
//     would fail.
//   - Special ids outside the vocabulary are an error, not a warning.
//   - BPE and WordPiece: invalid UTF-8 is kept byte for byte (a stray byte is
//     a character of no class) where llama.cpp replaces it; WordPiece drops
//     it. Unicode classes are Go's (Unicode 15), accent stripping Unicode 14.
//   - WordPiece: a word over 100 characters is [UNK] (BERT's limit); decoding
//     removes the space before . , ! ? but not llama.cpp's other clean-ups
//     (around apostrophes).
//   - The deepseek-llm pre-tokenizer has no test vectors here (no vocab file),
//     nor do qwen2 and command-r beyond the tiny arch-kit vocabs.
package tokenizer
