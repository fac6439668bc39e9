package schemas

import (
	_ "embed"
	"fmt"

	"github.com/linkedin/goavro/v2"
)

//go:embed risk.avsc
var riskSchema string

// RiskSchema returns the Avro schema of the risk message.
func RiskSchema() string { return riskSchema }

// RiskCodec compiles the risk message schema.
func RiskCodec() (*goavro.Codec, error) {
	c, err := goavro.NewCodec(riskSchema)
	if err != nil {
		return nil, fmt.Errorf("compile risk schema: %w", err)
	}
	return c, nil
}
