package backend

import (
	"fmt"
	"math"
)

// RouteRow is Route for one token: it chooses len(ids) experts from logits
// (one per expert) and writes their ids, most probable first (ties: the lower
// id), and their weights as g says. Backends that route on the host share it,
// so that every backend chooses the same experts with the same weights.
func RouteRow(ids []int32, weights, logits []float32, g Gating) {
	k := len(ids)
	if k == 0 || k > len(logits) || len(weights) != k {
		panic(fmt.Sprintf("backend: Route: %d experts of %d with %d weights", k, len(logits), len(weights)))
	}
	// Top k by logit (softmax is monotonic: the same choice as by probability).
	for j := range ids {
		best := int32(-1)
		for e, v := range logits {
			taken := false
			for _, id := range ids[:j] {
				if id == int32(e) {
					taken = true
					break
				}
			}
			if !taken && (best < 0 || v > logits[best]) {
				best = int32(e)
			}
		}
		ids[j] = best
	}
	switch g {
	case GatingSoftmax:
		// Softmax over all experts, as ggml's soft_max (exp of x - max, the sum
		// in float64, scaled by its float32 inverse), then the chosen
		// probabilities divided by their float32 sum (at least 6.1e-5).
		mx := logits[ids[0]]
		var sum float64
		for _, v := range logits {
			sum += float64(float32(math.Exp(float64(v - mx))))
		}
		inv := float32(1 / sum)
		var total float32
		for j, id := range ids {
			weights[j] = float32(math.Exp(float64(logits[id]-mx))) * inv
			total += weights[j]
		}
		total = max(total, 6.103515625e-5)
		for j := range weights {
			weights[j] /= total
		}
	case GatingTopKSoftmax:
		mx := logits[ids[0]]
		var sum float64
		for j, id := range ids {
			weights[j] = float32(math.Exp(float64(logits[id] - mx)))
			sum += float64(weights[j])
		}
		inv := float32(1 / sum)
		for j := range weights {
			weights[j] *= inv
		}
	default:
		panic(fmt.Sprintf("backend: Route: unknown gating %d", g))
	}
}
