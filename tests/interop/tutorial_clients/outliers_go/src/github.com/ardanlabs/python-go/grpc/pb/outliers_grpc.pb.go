// Client and server stubs of pb.Outliers as protoc-gen-go-grpc generates them
// (that plugin is not packaged in Debian 12), for grpc-go 1.33.

package pb

import (
	context "context"

	grpc "google.golang.org/grpc"
	codes "google.golang.org/grpc/codes"
	status "google.golang.org/grpc/status"
)

// This is a compile-time assertion to ensure that this generated file
// is compatible with the grpc package it is being compiled against.
const _ = grpc.SupportPackageIsVersion7

// OutliersClient is the client API for Outliers service.
type OutliersClient interface {
	Detect(ctx context.Context, in *OutliersRequest, opts ...grpc.CallOption) (*OutliersResponse, error)
}

type outliersClient struct {
	cc grpc.ClientConnInterface
}

func NewOutliersClient(cc grpc.ClientConnInterface) OutliersClient {
	return &outliersClient{cc}
}

func (c *outliersClient) Detect(ctx context.Context, in *OutliersRequest, opts ...grpc.CallOption) (*OutliersResponse, error) {
	out := new(OutliersResponse)
	err := c.cc.Invoke(ctx, "/pb.Outliers/Detect", in, out, opts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// OutliersServer is the server API for Outliers service.
type OutliersServer interface {
	Detect(context.Context, *OutliersRequest) (*OutliersResponse, error)
}

// UnimplementedOutliersServer can be embedded to have forward compatible implementations.
type UnimplementedOutliersServer struct{}

func (UnimplementedOutliersServer) Detect(context.Context, *OutliersRequest) (*OutliersResponse, error) {
	return nil, status.Errorf(codes.Unimplemented, "method Detect not implemented")
}

func RegisterOutliersServer(s *grpc.Server, srv OutliersServer) {
	s.RegisterService(&_Outliers_serviceDesc, srv)
}

func _Outliers_Detect_Handler(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(OutliersRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(OutliersServer).Detect(ctx, in)
	}
	info := &grpc.UnaryServerInfo{
		Server:     srv,
		FullMethod: "/pb.Outliers/Detect",
	}
	handler := func(ctx context.Context, req interface{}) (interface{}, error) {
		return srv.(OutliersServer).Detect(ctx, req.(*OutliersRequest))
	}
	return interceptor(ctx, in, info, handler)
}

var _Outliers_serviceDesc = grpc.ServiceDesc{
	ServiceName: "pb.Outliers",
	HandlerType: (*OutliersServer)(nil),
	Methods: []grpc.MethodDesc{
		{
			MethodName: "Detect",
			Handler:    _Outliers_Detect_Handler,
		},
	},
	Streams:  []grpc.StreamDesc{},
	Metadata: "outliers.proto",
}
