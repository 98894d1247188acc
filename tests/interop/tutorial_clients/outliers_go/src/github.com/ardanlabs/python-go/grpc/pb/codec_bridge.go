// Bridges these APIv2 messages to Debian's grpc-go 1.33, whose codec uses
// github.com/golang/protobuf 1.3.5: it calls a message's own Marshal and
// Unmarshal when present, which here delegate to google.golang.org/protobuf.

package pb

import "google.golang.org/protobuf/proto"

func (x *Metric) Marshal() ([]byte, error)           { return proto.Marshal(x) }
func (x *Metric) Unmarshal(b []byte) error           { return proto.Unmarshal(b, x) }
func (x *OutliersRequest) Marshal() ([]byte, error)  { return proto.Marshal(x) }
func (x *OutliersRequest) Unmarshal(b []byte) error  { return proto.Unmarshal(b, x) }
func (x *OutliersResponse) Marshal() ([]byte, error) { return proto.Marshal(x) }
func (x *OutliersResponse) Unmarshal(b []byte) error { return proto.Unmarshal(b, x) }
