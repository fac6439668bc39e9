package producer

import "fmt"

// Encoder turns a risk message into record bytes.
type Encoder interface {
	Encode(*RiskEvent) ([]byte, error)
	ContentType() string
}

// JSONEncoder writes the contract JSON.
type JSONEncoder struct{}

// Encode implements Encoder.
func (JSONEncoder) Encode(ev *RiskEvent) ([]byte, error) { return ev.MarshalJSON() }

// ContentType implements Encoder.
func (JSONEncoder) ContentType() string { return "application/json" }

// NewEncoder returns the encoder for --output-format (json or avro).
func NewEncoder(format string, avroSchemaID int) (Encoder, error) {
	switch format {
	case "", "json":
		return JSONEncoder{}, nil
	case "avro":
		return NewAvroEncoder(avroSchemaID)
	}
	return nil, fmt.Errorf("output format %q: want json or avro", format)
}
