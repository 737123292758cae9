// Package quantize converts a GGUF model's weights to another tensor type,
// choosing each tensor's type as llama.cpp's llama-quantize does for the same
// mix (Q4_K_M, Q8_0, ...), and streams the result to a new file.
package quantize

import (
	"fmt"
	"sort"
	"strings"

	"github.com/conveyor-llm/conveyor/gguf"
)

// FileType is llama.cpp's llama_ftype, the number written to
// general.file_type.
type FileType uint32

// The mixes conveyor can write, numbered as llama.cpp's LLAMA_FTYPE_MOSTLY_*.
const (
	FileTypeF16    FileType = 1
	FileTypeQ4_0   FileType = 2
	FileTypeQ4_1   FileType = 3
	FileTypeQ8_0   FileType = 7
	FileTypeQ5_0   FileType = 8
	FileTypeQ5_1   FileType = 9
	FileTypeQ2_K   FileType = 10
	FileTypeQ3_K_M FileType = 12
	FileTypeQ4_K_S FileType = 14
	FileTypeQ4_K_M FileType = 15
	FileTypeQ5_K_M FileType = 17
	FileTypeQ6_K   FileType = 18
	FileTypeIQ4_NL FileType = 25
	FileTypeIQ4_XS FileType = 30
	FileTypeBF16   FileType = 32
	// MXFP4_MOE: expert stacks MXFP4, the other matrices Q8_0 (gpt-oss).
	FileTypeMXFP4_MOE FileType = 38
)

type mixInfo struct {
	name string
	base gguf.Type // llama.cpp's default_type for the mix
}

var mixes = map[FileType]mixInfo{
	FileTypeF16:    {"F16", gguf.TypeF16},
	FileTypeBF16:   {"BF16", gguf.TypeBF16},
	FileTypeQ8_0:   {"Q8_0", gguf.TypeQ8_0},
	FileTypeQ4_0:   {"Q4_0", gguf.TypeQ4_0},
	FileTypeQ4_1:   {"Q4_1", gguf.TypeQ4_1},
	FileTypeQ5_0:   {"Q5_0", gguf.TypeQ5_0},
	FileTypeQ5_1:   {"Q5_1", gguf.TypeQ5_1},
	FileTypeQ2_K:   {"Q2_K", gguf.TypeQ2_K},
	FileTypeQ3_K_M: {"Q3_K_M", gguf.TypeQ3_K},
	FileTypeQ4_K_S: {"Q4_K_S", gguf.TypeQ4_K},
	FileTypeQ4_K_M: {"Q4_K_M", gguf.TypeQ4_K},
	FileTypeQ5_K_M: {"Q5_K_M", gguf.TypeQ5_K},
	FileTypeQ6_K:   {"Q6_K", gguf.TypeQ6_K},
	FileTypeIQ4_NL: {"IQ4_NL", gguf.TypeIQ4_NL},
	FileTypeIQ4_XS: {"IQ4_XS", gguf.TypeIQ4_XS},

	FileTypeMXFP4_MOE: {"MXFP4_MOE", gguf.TypeMXFP4},
}

// fileTypeAliases are names ParseFileType also accepts.
var fileTypeAliases = map[string]FileType{"MXFP4": FileTypeMXFP4_MOE}

// String is the mix's llama.cpp name, e.g. "Q4_K_M".
func (ft FileType) String() string {
	if m, ok := mixes[ft]; ok {
		return m.name
	}
	return fmt.Sprintf("ftype(%d)", uint32(ft))
}

// Base is the type most tensors of the mix get.
func (ft FileType) Base() gguf.Type { return mixes[ft].base }

// ParseFileType finds a mix by name, case-insensitively.
func ParseFileType(name string) (FileType, error) {
	for ft, m := range mixes {
		if strings.EqualFold(m.name, name) {
			return ft, nil
		}
	}
	if ft, ok := fileTypeAliases[strings.ToUpper(name)]; ok {
		return ft, nil
	}
	return 0, fmt.Errorf("quantize: unknown type %q (one of %s)", name, strings.Join(FileTypeNames(), ", "))
}

// FileTypeNames lists the mixes' names in llama.cpp's order.
func FileTypeNames() []string {
	fts := make([]FileType, 0, len(mixes))
	for ft := range mixes {
		fts = append(fts, ft)
	}
	sort.Slice(fts, func(i, j int) bool { return fts[i] < fts[j] })
	names := make([]string, len(fts))
	for i, ft := range fts {
		names[i] = ft.String()
	}
	return names
}

// Model is what the per-tensor rules need to know about the model.
type Model struct {
	Arch      string
	Heads     int // attention heads
	KVHeads   int // key/value heads
	Experts   int // 0 or 1 for a dense model
	HasOutput bool
	// Numbers of attn_v and ffn_down tensors, counted over the file.
	AttnV, FFNDown int
}

// ModelOf reads what Model needs from a file's metadata and tensor names.
func ModelOf(f *gguf.File) Model {
	var m Model
	if v, ok := f.Lookup("general.architecture"); ok {
		m.Arch, _ = v.Str()
	}
	geti := func(key string) int {
		if v, ok := f.Lookup(m.Arch + "." + key); ok {
			if n, err := v.Uint(); err == nil {
				return int(n)
			}
		}
		return 0
	}
	m.Heads = geti("attention.head_count")
	m.KVHeads = geti("attention.head_count_kv")
	if m.KVHeads == 0 {
		m.KVHeads = m.Heads
	}
	m.Experts = geti("expert_count")
	for _, t := range f.Tensors {
		switch {
		case t.Name == "output.weight":
			m.HasOutput = true
		case strings.Contains(t.Name, "attn_v.weight") || strings.Contains(t.Name, "attn_qkv.weight") || strings.Contains(t.Name, "attn_kv_b.weight"):
			m.AttnV++
		case strings.Contains(t.Name, "ffn_down"):
			m.FFNDown++
		}
	}
	return m
}

// nGQA is llama.cpp's n_gqa(): heads per KV head.
func (m Model) nGQA() int {
	if m.KVHeads == 0 {
		return 1
	}
	return m.Heads / m.KVHeads
}

// Planner decides each tensor's type in file order, as llama.cpp's
// llama_tensor_get_type does (it counts attn_v and ffn_down tensors as it
// goes, so tensors must be given in file order).
type Planner struct {
	FileType FileType
	Model    Model
	// Pure: every quantized tensor gets the base type (llama-quantize --pure).
	Pure bool

	iAttnV, iFFNDown int
}

// Choice is the plan for one tensor.
type Choice struct {
	Type gguf.Type
	// Quantize is false for tensors copied unchanged (norms, 1-D tensors, ...).
	Quantize bool
	// Note says why the type differs from what the mix's rules gave, if it does.
	Note string
}

// nDims is ggml_n_dims: the number of dimensions up to the last one > 1.
func nDims(dims []uint64) int {
	n := 1
	for i, d := range dims {
		if d > 1 {
			n = i + 1
		}
	}
	return n
}

// quantizable is llama.cpp's test of whether a tensor is quantized at all.
func quantizable(name string, dims []uint64) bool {
	if !strings.HasSuffix(name, "weight") || nDims(dims) < 2 {
		return false
	}
	for _, s := range []string{"_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight", "altup", "laurel", "per_layer_model_proj", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight"} {
		if strings.Contains(name, s) {
			return false
		}
	}
	switch name {
	case "position_embd.weight", "token_types.weight":
		return false
	}
	return true
}

// Plan returns the type of tensor t in the output.
func (p *Planner) Plan(t gguf.TensorInfo) Choice {
	if !quantizable(t.Name, t.Dims) {
		return Choice{Type: t.Type}
	}
	typ := p.FileType.Base()
	if !p.Pure && isQuantized(typ) {
		typ = p.rules(t.Name, t.Dims, typ)
	}
	c := Choice{Type: typ, Quantize: true}
	// The row length must divide into the type's blocks.
	nx := int(t.Dims[0])
	if nx%typ.BlockSize() != 0 {
		if fb, ok := fallback(typ); ok {
			c.Note = fmt.Sprintf("%d values per row do not divide into %s blocks of %d", nx, typ, typ.BlockSize())
			if nx%fb.BlockSize() != 0 {
				fb = gguf.TypeF16
			}
			c.Type = fb
			c.Note += "; using " + fb.String()
		} else {
			// llama.cpp refuses such a file; we keep the tensor F32.
			c.Note = fmt.Sprintf("%d values per row do not divide into %s blocks of %d; kept F32", nx, typ, typ.BlockSize())
			c.Type = gguf.TypeF32
		}
	}
	if c.Type == t.Type {
		c.Quantize = false
	}
	return c
}

func isQuantized(t gguf.Type) bool { return t.BlockSize() > 1 }

// fallback is llama.cpp's replacement (tensor_type_fallback) for a
// 256-value type whose blocks a tensor's rows do not divide into: a 32-value
// type of about the same size or larger. (Older llama.cpp gave Q2_K and Q3_K
// IQ4_NL; since it gives them Q4_0.)
func fallback(t gguf.Type) (gguf.Type, bool) {
	switch t {
	case gguf.TypeIQ4_XS:
		return gguf.TypeIQ4_NL, true
	case gguf.TypeQ2_K, gguf.TypeQ3_K:
		return gguf.TypeQ4_0, true
	case gguf.TypeQ4_K:
		return gguf.TypeQ5_0, true
	case gguf.TypeQ5_K:
		return gguf.TypeQ5_1, true
	case gguf.TypeQ6_K:
		return gguf.TypeQ8_0, true
	}
	return 0, false
}

// useMoreBits is llama.cpp's use_more_bits: the first and last eighth of the
// layers and every third one between get more bits.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// layerOf is the layer number in a "blk.N." name, or -1.
func layerOf(name string) int {
	var l int
	if _, err := fmt.Sscanf(name, "blk.%d.", &l); err != nil {
		return -1
	}
	return l
}

// rules is llama_tensor_get_type's choice for the mixes conveyor writes.
func (p *Planner) rules(name string, dims []uint64, typ gguf.Type) gguf.Type {
	ft, m, nx := p.FileType, p.Model, int(dims[0])
	falcon := m.Arch == "falcon"
	switch {
	case name == "output.weight" || (!m.HasOutput && name == "token_embd.weight"):
		if falcon || nx%typ.BlockSize() != 0 {
			typ = gguf.TypeQ8_0
		} else if typ != gguf.TypeQ8_0 {
			typ = gguf.TypeQ6_K
		}
	case ft == FileTypeMXFP4_MOE:
		// llama.cpp: a 3-D tensor (an expert stack) MXFP4, the rest Q8_0.
		typ = gguf.TypeQ8_0
		if len(dims) > 2 && dims[2] > 1 {
			typ = gguf.TypeMXFP4
		}
	case strings.Contains(name, "attn_v.weight"):
		i := p.iAttnV
		p.iAttnV++
		switch {
		case ft == FileTypeQ2_K:
			if m.nGQA() >= 4 {
				typ = gguf.TypeQ4_K
			} else {
				typ = gguf.TypeQ3_K
			}
		case ft == FileTypeQ3_K_M:
			if i < 2 {
				typ = gguf.TypeQ5_K
			} else {
				typ = gguf.TypeQ4_K
			}
		case (ft == FileTypeIQ4_NL || ft == FileTypeIQ4_XS) && m.nGQA() >= 4:
			typ = gguf.TypeQ5_K
		case (ft == FileTypeQ4_K_M || ft == FileTypeQ5_K_M) && useMoreBits(i, m.AttnV):
			typ = gguf.TypeQ6_K
		case ft == FileTypeQ4_K_S && i < 4:
			typ = gguf.TypeQ5_K
		}
		if m.Experts == 8 {
			typ = gguf.TypeQ8_0
		}
	case strings.Contains(name, "attn_k.weight"):
		if m.Experts == 8 {
			typ = gguf.TypeQ8_0
		}
	case strings.Contains(name, "ffn_down"):
		i, n := p.iFFNDown, m.FFNDown
		p.iFFNDown++
		if m.Experts > 1 {
			// llama.cpp reads the layer from the name for MoE models.
			if l := layerOf(name); l >= 0 {
				i = l
			}
		}
		switch {
		case ft == FileTypeQ2_K:
			typ = gguf.TypeQ3_K
		case ft == FileTypeQ3_K_M:
			switch {
			case i < n/16:
				typ = gguf.TypeQ5_K
			case !falcon || useMoreBits(i, n):
				typ = gguf.TypeQ4_K
			default:
				typ = gguf.TypeQ3_K
			}
		case ft == FileTypeQ4_K_M:
			if falcon {
				switch {
				case i < n/16:
					typ = gguf.TypeQ6_K
				case useMoreBits(i, n):
					typ = gguf.TypeQ5_K
				default:
					typ = gguf.TypeQ4_K
				}
			} else if useMoreBits(i, n) {
				typ = gguf.TypeQ6_K
			}
		case (ft == FileTypeIQ4_NL || ft == FileTypeIQ4_XS) && i < n/8:
			// llama.cpp: only without an importance matrix, which conveyor
			// never has.
			typ = gguf.TypeQ5_K
		case ft == FileTypeQ5_K_M && useMoreBits(i, n):
			typ = gguf.TypeQ6_K
		case ft == FileTypeQ4_K_S && !falcon && i < n/8:
			typ = gguf.TypeQ5_K
		}
	case strings.Contains(name, "attn_output.weight"):
		if !falcon {
			if m.Experts == 8 {
				switch ft {
				case FileTypeQ2_K, FileTypeQ3_K_M, FileTypeQ4_K_S, FileTypeQ4_K_M, FileTypeIQ4_NL, FileTypeIQ4_XS:
					typ = gguf.TypeQ5_K
				}
			} else {
				switch ft {
				case FileTypeQ2_K:
					typ = gguf.TypeQ3_K
				case FileTypeQ3_K_M:
					typ = gguf.TypeQ4_K
				}
			}
		}
	case strings.Contains(name, "attn_qkv.weight"):
		switch ft {
		case FileTypeQ3_K_M:
			typ = gguf.TypeQ4_K
		case FileTypeQ4_K_M:
			typ = gguf.TypeQ5_K
		case FileTypeQ5_K_M:
			typ = gguf.TypeQ6_K
		}
	}
	return typ
}
