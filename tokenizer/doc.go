// Package tokenizer turns text into token ids and back, as llama.cpp does for
// the vocabulary stored in a GGUF file's tokenizer.ggml.* keys.
//
// Supported so far: tokenizer.ggml.model "llama", the SentencePiece (SPM)
// vocabularies of Llama 1/2, Mistral, Phi-3, TinyStories and kin. The
// tokenizer gives exactly llama.cpp's ids on llama.cpp's test vectors.
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
// Round trips hold for any input except text containing "▁" itself (it decodes
// as a space, in llama.cpp too) and, with parseSpecial, the special tokens'
// text (control tokens decode to nothing).
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
package tokenizer
