package runopts

import (
	"bytes"
	"encoding/json"
)

// JSONLine encodes v as one line of JSON without HTML escaping, so that token
// text such as "<s>" reads as it is.
func JSONLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
