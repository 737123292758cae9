package cuda

import "strings"

// kernelSignatures are the PTX parameter types of every kernel, in order,
// as the ops pack them (cu.Args.Signature). launch refuses a launch whose
// packing differs, and TestKernelsCompileWithNVRTC checks the table against
// the PTX NVRTC makes, so a kernel and its launch cannot drift apart
// unnoticed even where no GPU runs the tests.
var kernelSignatures = map[string]string{
	"quantize_q8": "u64,u64,u64,u32",
	"matvec":      "u64,u64,u64,u64,u64,u64,u32,u32,u32,u64,u32", // every matvec_* kernel
	"get_rows":    "u64,u64,u64,u64,u32,u32",
	"kv_write":    "u64,u64,u64,u32,u32",
	"rms_norm":    "u64,u64,u64,u32,f32",
	"layer_norm":  "u64,u64,u64,u64,u32,f32",
	"elementwise": "u64,u64,u64,u64,u32,u32,f32,f32",
	"moe_sum":     "u64,u64,u64,u32,u32,u32",
	"rope":        "u64,u64,u64,u32,u32,u32,u32,u32,f32,f32,f32,f32,f32,f32",
	"attention":   "u64,u64,u64,u64,u64,u64,u64,u32,u32,u32,u32,f32,f32,u32,u32",
	"argmax":      "u64,u64,u32",
}

// signatureOf is kernel name's entry in kernelSignatures.
func signatureOf(name string) (string, bool) {
	if strings.HasPrefix(name, "matvec_") {
		name = "matvec"
	}
	s, ok := kernelSignatures[name]
	return s, ok
}
