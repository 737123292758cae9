//go:build race

package engine

// raceDetector: this test binary runs under the race detector, whose shadow
// memory inflates the process's resident set.
const raceDetector = true
