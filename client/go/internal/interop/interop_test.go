package interop

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/cqmux/cqmux/client/go/internal/testserver"
	"github.com/cqmux/cqmux/client/go/internal/tutorial"
	bookspb "github.com/cqmux/cqmux/client/go/pb/books"
	disppb "github.com/cqmux/cqmux/client/go/pb/displacement"
	outlierspb "github.com/cqmux/cqmux/client/go/pb/outliers"
	rpcpb "github.com/cqmux/cqmux/client/go/pb/rpc"
	userspb "github.com/cqmux/cqmux/client/go/pb/users"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// start runs a fresh server for one test and returns a connection to it.
func start(t *testing.T, flags ...string) (*testserver.Server, *grpc.ClientConn) {
	t.Parallel()
	s := testserver.Start(t, flags...)
	return s, s.Dial(t)
}

func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s: want %v, got %v", what, want, err)
	}
}

func TestHealth(t *testing.T) {
	s, conn := start(t)
	ctx := callContext(t)
	c := healthpb.NewHealthClient(conn)
	for _, service := range []string{"", "rpc.Fetch", "Users", "books.BookService",
		"my_package.DisplacementService", "my_package.RequestStreaming", "pb.Outliers"} {
		r, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q): %v %v", service, r, err)
		}
	}
	_, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	wantCode(t, "Check(unknown service)", err, codes.NotFound)
	s.Stop()
}

func TestCapitalize(t *testing.T) {
	s, conn := start(t)
	r, err := rpcpb.NewFetchClient(conn).Capitalize(callContext(t),
		&rpcpb.Payload{Id: 42, Data: []byte("hello, wörld 123")})
	if err != nil || r.GetId() != 42 || string(r.GetData()) != "HELLO, WöRLD 123" {
		t.Errorf("Capitalize: %v %v", r, err)
	}
	s.Stop()
}

func TestUsers(t *testing.T) {
	s, conn := start(t, "--password-hash=min")
	c := userspb.NewUsersClient(conn)
	for i, name := range []string{"alexa", "christie"} {
		// The tutorial's client sends its IP as metadata.
		ctx := metadata.AppendToOutgoingContext(callContext(t), "ip", "127.0.0.1")
		r, err := c.CreateUser(ctx, &userspb.CreateUserRequest{Username: name, Password: "pw", Email: name + "@example.com"})
		if err != nil || r.GetUser().GetUsername() != name || r.GetUser().GetUserId() != uint32(i+1) {
			t.Fatalf("CreateUser %s: %v %v", name, r, err)
		}
	}
	_, err := c.CreateUser(callContext(t), &userspb.CreateUserRequest{Username: ""})
	wantCode(t, "CreateUser empty name", err, codes.InvalidArgument)
	_, err = c.CreateUser(callContext(t), &userspb.CreateUserRequest{Username: "alexa"})
	wantCode(t, "CreateUser taken name", err, codes.AlreadyExists)

	get := func(users ...*userspb.User) ([]string, error) {
		stream, err := c.GetUsers(callContext(t), &userspb.GetUsersRequest{User: users})
		if err != nil {
			return nil, err
		}
		var got []string
		for {
			r, err := stream.Recv()
			if err == io.EOF {
				return got, nil
			}
			if err != nil {
				return got, err
			}
			got = append(got, fmt.Sprintf("%s/%d", r.GetUser().GetUsername(), r.GetUser().GetUserId()))
		}
	}
	// In request order, by name or by id.
	got, err := get(&userspb.User{Username: "christie"}, &userspb.User{UserId: 1})
	if err != nil || !slices.Equal(got, []string{"christie/2", "alexa/1"}) {
		t.Errorf("GetUsers: %v %v", got, err)
	}
	// The users found before an unknown one are streamed, then NOT_FOUND.
	got, err = get(&userspb.User{Username: "alexa"}, &userspb.User{Username: "nobody"})
	if !slices.Equal(got, []string{"alexa/1"}) {
		t.Errorf("GetUsers before NOT_FOUND: %v", got)
	}
	wantCode(t, "GetUsers unknown user", err, codes.NotFound)
	s.Stop()
}

func TestBooks(t *testing.T) {
	s, conn := start(t)
	c := bookspb.NewBookServiceClient(conn)
	ctx := callContext(t)
	list, err := c.List(ctx, &bookspb.Empty{})
	if err != nil || len(list.GetBooks()) != 1 || list.Books[0].GetId() != 123 ||
		list.Books[0].GetTitle() != "A Tale of Two Cities" || list.Books[0].GetAuthor() != "Charles Dickens" {
		t.Fatalf("List (seeded): %v %v", list, err)
	}
	if _, err := c.Insert(ctx, &bookspb.Book{Id: 2, Title: "The Three Musketeers", Author: "Alexandre Dumas"}); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	b, err := c.Get(ctx, &bookspb.BookIdRequest{Id: 2})
	if err != nil || b.GetTitle() != "The Three Musketeers" || b.GetAuthor() != "Alexandre Dumas" {
		t.Errorf("Get: %v %v", b, err)
	}
	if list, err := c.List(ctx, &bookspb.Empty{}); err != nil || len(list.GetBooks()) != 2 {
		t.Errorf("List after Insert: %v %v", list, err)
	}
	_, err = c.Insert(ctx, &bookspb.Book{Id: 2, Title: "Again", Author: "Someone"})
	wantCode(t, "Insert existing id", err, codes.AlreadyExists)
	_, err = c.Insert(ctx, &bookspb.Book{Id: 3, Title: "", Author: "Someone"})
	wantCode(t, "Insert empty title", err, codes.InvalidArgument)
	_, err = c.Get(ctx, &bookspb.BookIdRequest{Id: 404})
	if st, _ := status.FromError(err); st.Code() != codes.NotFound || st.Message() != "No book with id 404 was found" {
		t.Errorf("Get unknown: want NOT_FOUND with the tutorial's message, got %v", err)
	}
	if _, err := c.Delete(ctx, &bookspb.BookIdRequest{Id: 2}); err != nil {
		t.Errorf("Delete: %v", err)
	}
	_, err = c.Delete(ctx, &bookspb.BookIdRequest{Id: 2})
	wantCode(t, "Delete twice", err, codes.NotFound)
	_, err = c.Get(ctx, &bookspb.BookIdRequest{Id: 2})
	wantCode(t, "Get deleted", err, codes.NotFound)
	s.Stop()
}

func TestBooksWatch(t *testing.T) {
	s, conn := start(t)
	c := bookspb.NewBookServiceClient(conn)
	ctx := callContext(t)

	// Nothing is inserted: only our deadline ends the stream.
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	stream, err := c.Watch(short, &bookspb.Empty{})
	if err == nil {
		_, err = stream.Recv()
	}
	cancelShort()
	wantCode(t, "Watch deadline", err, codes.DeadlineExceeded)

	watchCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	stream, err = c.Watch(watchCtx, &bookspb.Empty{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	received := make(chan *bookspb.Book, 100)
	go func() {
		defer close(received)
		for {
			b, err := stream.Recv()
			if err != nil {
				return
			}
			received <- b
		}
	}()
	// The watch counts from when the server accepted it, which the client
	// cannot observe: insert probes until one arrives...
	for probe := int32(1000); ; probe++ {
		if probe == 1020 {
			t.Fatal("Watch: no probe book delivered")
		}
		if _, err := c.Insert(ctx, &bookspb.Book{Id: probe, Title: "probe", Author: "interop"}); err != nil {
			t.Fatalf("Insert probe: %v", err)
		}
		select {
		case b := <-received:
			if b == nil || b.GetId() < 1000 || b.GetId() > probe || b.GetTitle() != "probe" || b.GetAuthor() != "interop" {
				t.Fatalf("Watch probe: %v", b)
			}
		case <-time.After(500 * time.Millisecond):
			continue
		}
		break
	}
	// ...then expect exactly these, in order, after any probes in flight.
	want := []int32{2001, 2002, 2003}
	for _, id := range want {
		if _, err := c.Insert(ctx, &bookspb.Book{Id: id, Title: fmt.Sprint("Book ", id), Author: "Author"}); err != nil {
			t.Fatalf("Insert %d: %v", id, err)
		}
	}
	var got []int32
	for len(got) < len(want) {
		select {
		case b := <-received:
			if b == nil {
				t.Fatalf("Watch ended early after %v", got)
			}
			if b.GetId() >= 2000 {
				if b.GetTitle() != fmt.Sprint("Book ", b.GetId()) {
					t.Errorf("Watch: %v", b)
				}
				got = append(got, b.GetId())
			}
		case <-watchCtx.Done():
			t.Fatalf("Watch: got %v of %v", got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Watch order: %v, want %v", got, want)
	}
	stop()
	s.Stop()
}

func TestDisplacement(t *testing.T) {
	s, conn := start(t)
	c := disppb.NewDisplacementServiceClient(conn)
	ctx := callContext(t)
	r, err := c.ComputeDisplacement(ctx, &disppb.Displacement{Start: &disppb.Point{X: 0, Y: 0}, End: &disppb.Point{X: 3, Y: 4}})
	if err != nil || r.GetDistance() != 5 {
		t.Errorf("computeDisplacement: %v %v", r, err)
	}
	r, err = c.ComputeDisplacement(ctx, &disppb.Displacement{
		Start: &disppb.Point{X: math.MinInt32, Y: math.MinInt32},
		End:   &disppb.Point{X: math.MaxInt32, Y: math.MaxInt32}})
	if err != nil || math.Abs(float64(r.GetDistance())-6.0740e9)/6.0740e9 > 1e-3 {
		t.Errorf("computeDisplacement extreme: %v %v", r, err)
	}
	s.Stop()
}

func TestRequestStreaming(t *testing.T) {
	s, conn := start(t)
	stream, err := disppb.NewRequestStreamingClient(conn).StreamState(callContext(t))
	if err != nil {
		t.Fatalf("stream_state: %v", err)
	}
	for i := range 100 {
		if err := stream.Send(&disppb.Data{Status: disppb.Status(i % 5), Info: fmt.Sprint("state ", i)}); err != nil {
			t.Fatalf("stream_state send %d: %v", i, err)
		}
	}
	if r, err := stream.CloseAndRecv(); err != nil || r == nil {
		t.Errorf("stream_state close: %v %v", r, err)
	}
	s.Stop()
}

func TestOutliers(t *testing.T) {
	s, conn := start(t)
	c := outlierspb.NewOutliersClient(conn)
	ctx := callContext(t)
	r, err := c.Detect(ctx, &outlierspb.OutliersRequest{Metrics: tutorial.Metrics(tutorial.Size, tutorial.Seed)})
	if err != nil || !slices.Equal(r.GetIndices(), tutorial.OutlierIndices) {
		t.Errorf("Detect(the tutorial's metrics): %v %v, want %v", r, err, tutorial.OutlierIndices)
	}
	// Another pattern: a sawtooth below 20 with the same planted outliers.
	var metrics []*outlierspb.Metric
	for i := range tutorial.Size {
		v, planted := tutorial.Outliers[i]
		if !planted {
			v = float64(i%40) * 0.5
		}
		metrics = append(metrics, &outlierspb.Metric{Time: &timestamppb.Timestamp{Seconds: 1590156791 + int64(i)}, Name: "CPU", Value: v})
	}
	r, err = c.Detect(ctx, &outlierspb.OutliersRequest{Metrics: metrics})
	if err != nil || !slices.Equal(r.GetIndices(), tutorial.OutlierIndices) {
		t.Errorf("Detect(sawtooth): %v %v", r, err)
	}
	r, err = c.Detect(ctx, &outlierspb.OutliersRequest{})
	if err != nil || len(r.GetIndices()) != 0 {
		t.Errorf("Detect(no metrics): %v %v", r, err)
	}
	s.Stop()
}
