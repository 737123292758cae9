//go:build !amd64

package kernels

func rotateVariants() []rotateVariant { return nil }
