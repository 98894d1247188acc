// Command cqmuxinterop calls every method of every cqmux service through the
// Go client packages (cqmux/pb/...) against a running server, with the error
// paths NOT_FOUND, INVALID_ARGUMENT, ALREADY_EXISTS and DEADLINE_EXCEEDED.
// It prints "ok: <check>" per passed check and exits 1 at the first failure.
// It expects a fresh server (book 123 seeded, no users).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"time"

	booksPb "cqmux/pb/books"
	dispPb "cqmux/pb/displacement"
	outPb "cqmux/pb/outliers"
	rpcPb "cqmux/pb/rpc"
	usersPb "cqmux/pb/users"

	"github.com/golang/protobuf/ptypes/timestamp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthPb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var target = flag.String("target", "localhost:50051", "server address")

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func ok(check string) { fmt.Println("ok:", check) }

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func expectCode(check string, err error, want codes.Code) {
	if status.Code(err) != want {
		fail("%s: want %v, got %v", check, want, err)
	}
	ok(check)
}

func health(conn *grpc.ClientConn) {
	c := healthPb.NewHealthClient(conn)
	for _, service := range []string{"", "books.BookService", "pb.Outliers"} {
		x, cancel := ctx()
		r, err := c.Check(x, &healthPb.HealthCheckRequest{Service: service})
		cancel()
		if err != nil || r.Status != healthPb.HealthCheckResponse_SERVING {
			fail("health %q: %v %v", service, r, err)
		}
	}
	ok("health SERVING")
}

func capitalize(conn *grpc.ClientConn) {
	c := rpcPb.NewFetchClient(conn)
	x, cancel := ctx()
	defer cancel()
	r, err := c.Capitalize(x, &rpcPb.Payload{Id: 42, Data: []byte("hello, wörld 123")})
	if err != nil || r.Id != 42 || string(r.Data) != "HELLO, WöRLD 123" {
		fail("Capitalize: %v %v", r, err)
	}
	ok("rpc.Fetch/Capitalize")
}

func users(conn *grpc.ClientConn) {
	c := usersPb.NewUsersClient(conn)
	for i, name := range []string{"alexa", "christie"} {
		x, cancel := ctx()
		x = metadata.AppendToOutgoingContext(x, "ip", "127.0.0.1")
		r, err := c.CreateUser(x, &usersPb.CreateUserRequest{Username: name, Password: "pw", Email: name + "@example.com"})
		cancel()
		if err != nil || r.User.Username != name || r.User.UserId != uint32(i+1) {
			fail("CreateUser %s: %v %v", name, r, err)
		}
	}
	ok("Users/CreateUser ids 1, 2")
	x, cancel := ctx()
	_, err := c.CreateUser(x, &usersPb.CreateUserRequest{Username: ""})
	cancel()
	expectCode("Users/CreateUser empty name", err, codes.InvalidArgument)
	x, cancel = ctx()
	_, err = c.CreateUser(x, &usersPb.CreateUserRequest{Username: "alexa"})
	cancel()
	expectCode("Users/CreateUser taken name", err, codes.AlreadyExists)

	get := func(req *usersPb.GetUsersRequest) ([]string, error) {
		x, cancel := ctx()
		defer cancel()
		stream, err := c.GetUsers(x, req)
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
			got = append(got, fmt.Sprintf("%s/%d", r.User.Username, r.User.UserId))
		}
	}
	got, err := get(&usersPb.GetUsersRequest{User: []*usersPb.User{{Username: "christie"}, {UserId: 1}}})
	if err != nil || !reflect.DeepEqual(got, []string{"christie/2", "alexa/1"}) {
		fail("GetUsers: %v %v", got, err)
	}
	ok("Users/GetUsers stream in request order")
	got, err = get(&usersPb.GetUsersRequest{User: []*usersPb.User{{Username: "alexa"}, {Username: "nobody"}}})
	if !reflect.DeepEqual(got, []string{"alexa/1"}) {
		fail("GetUsers before NOT_FOUND: %v", got)
	}
	expectCode("Users/GetUsers unknown user", err, codes.NotFound)
}

func books(conn *grpc.ClientConn) {
	c := booksPb.NewBookServiceClient(conn)
	x, cancel := ctx()
	defer cancel()
	list, err := c.List(x, &booksPb.Empty{})
	if err != nil || len(list.Books) != 1 || list.Books[0].Id != 123 ||
		list.Books[0].Title != "A Tale of Two Cities" || list.Books[0].Author != "Charles Dickens" {
		fail("List: %v %v", list, err)
	}
	ok("books List (seeded)")
	if _, err := c.Insert(x, &booksPb.Book{Id: 2, Title: "The Three Musketeers", Author: "Alexandre Dumas"}); err != nil {
		fail("Insert: %v", err)
	}
	b, err := c.Get(x, &booksPb.BookIdRequest{Id: 2})
	if err != nil || b.Title != "The Three Musketeers" {
		fail("Get: %v %v", b, err)
	}
	ok("books Insert + Get")
	_, err = c.Insert(x, &booksPb.Book{Id: 2, Title: "Again", Author: "Someone"})
	expectCode("books Insert existing id", err, codes.AlreadyExists)
	_, err = c.Insert(x, &booksPb.Book{Id: 3, Title: "", Author: "Someone"})
	expectCode("books Insert empty title", err, codes.InvalidArgument)
	_, err = c.Get(x, &booksPb.BookIdRequest{Id: 404})
	if st, _ := status.FromError(err); st.Code() != codes.NotFound || st.Message() != "No book with id 404 was found" {
		fail("Get 404: %v", err)
	}
	ok("books Get unknown -> NOT_FOUND with the tutorial's message")
	if _, err := c.Delete(x, &booksPb.BookIdRequest{Id: 2}); err != nil {
		fail("Delete: %v", err)
	}
	_, err = c.Delete(x, &booksPb.BookIdRequest{Id: 2})
	expectCode("books Delete twice", err, codes.NotFound)

	// Watch: no deadline of ours would pass while nothing is inserted.
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	stream, err := c.Watch(short, &booksPb.Empty{})
	if err == nil {
		_, err = stream.Recv()
	}
	cancelShort()
	expectCode("books Watch deadline", err, codes.DeadlineExceeded)

	watchCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	stream, err = c.Watch(watchCtx, &booksPb.Empty{})
	if err != nil {
		fail("Watch: %v", err)
	}
	received := make(chan *booksPb.Book, 100)
	go func() {
		for {
			b, err := stream.Recv()
			if err != nil {
				close(received)
				return
			}
			received <- b
		}
	}()
	// The watch counts from when the server accepted it, which the client
	// cannot observe: insert probes until one arrives, then check the order
	// of everything inserted after it.
	probe := int32(1000)
	for ; ; probe++ {
		if probe == 1020 {
			fail("Watch: no probe book delivered")
		}
		if _, err := c.Insert(x, &booksPb.Book{Id: probe, Title: "probe", Author: "interop"}); err != nil {
			fail("Insert probe: %v", err)
		}
		select {
		case b := <-received:
			if b == nil || b.Id < 1000 || b.Id > probe {
				fail("Watch probe: %v", b)
			}
			probe = 0
		case <-time.After(500 * time.Millisecond):
		}
		if probe == 0 {
			break
		}
	}
	// Drain probes that were already in flight, then expect exactly these.
	want := []int32{2001, 2002, 2003}
	for _, id := range want {
		if _, err := c.Insert(x, &booksPb.Book{Id: id, Title: fmt.Sprint("Book ", id), Author: "Author"}); err != nil {
			fail("Insert %d: %v", id, err)
		}
	}
	var got []int32
	for len(got) < len(want) {
		select {
		case b := <-received:
			if b == nil {
				fail("Watch ended early")
			}
			if b.Id >= 2000 {
				got = append(got, b.Id)
			}
		case <-watchCtx.Done():
			fail("Watch: got %v of %v", got, want)
		}
	}
	if !reflect.DeepEqual(got, want) {
		fail("Watch order: %v", got)
	}
	ok("books Watch delivers inserts in order")
}

func displacement(conn *grpc.ClientConn) {
	c := dispPb.NewDisplacementServiceClient(conn)
	x, cancel := ctx()
	defer cancel()
	r, err := c.ComputeDisplacement(x, &dispPb.Displacement{Start: &dispPb.Point{X: 0, Y: 0}, End: &dispPb.Point{X: 3, Y: 4}})
	if err != nil || r.Distance != 5 {
		fail("computeDisplacement: %v %v", r, err)
	}
	r, err = c.ComputeDisplacement(x, &dispPb.Displacement{
		Start: &dispPb.Point{X: math.MinInt32, Y: math.MinInt32},
		End:   &dispPb.Point{X: math.MaxInt32, Y: math.MaxInt32}})
	if err != nil || math.Abs(float64(r.Distance)-6.0740e9)/6.0740e9 > 1e-3 {
		fail("computeDisplacement extreme: %v %v", r, err)
	}
	ok("my_package.DisplacementService/computeDisplacement")

	s, err := dispPb.NewRequestStreamingClient(conn).StreamState(x)
	if err != nil {
		fail("stream_state: %v", err)
	}
	for i := 0; i < 100; i++ {
		if err := s.Send(&dispPb.Data{Status: dispPb.Status(i % 5), Info: fmt.Sprint("state ", i)}); err != nil {
			fail("stream_state send: %v", err)
		}
	}
	if _, err := s.CloseAndRecv(); err != nil {
		fail("stream_state close: %v", err)
	}
	ok("my_package.RequestStreaming/stream_state")
}

func outliers(conn *grpc.ClientConn) {
	c := outPb.NewOutliersClient(conn)
	x, cancel := ctx()
	defer cancel()
	var metrics []*outPb.Metric
	for i := 0; i < 1000; i++ {
		v := float64(i%40) * 0.5
		switch i {
		case 7:
			v = 97.3
		case 113:
			v = 92.1
		case 835:
			v = 93.2
		}
		metrics = append(metrics, &outPb.Metric{Time: &timestamp.Timestamp{Seconds: 1590156791 + int64(i)}, Name: "CPU", Value: v})
	}
	r, err := c.Detect(x, &outPb.OutliersRequest{Metrics: metrics})
	if err != nil || !reflect.DeepEqual(r.Indices, []int32{7, 113, 835}) {
		fail("Detect: %v %v", r, err)
	}
	ok("pb.Outliers/Detect")
}

func main() {
	flag.Parse()
	conn, err := grpc.Dial(*target, grpc.WithInsecure())
	if err != nil {
		fail("dial: %v", err)
	}
	defer conn.Close()
	health(conn)
	capitalize(conn)
	users(conn)
	books(conn)
	displacement(conn)
	outliers(conn)
	fmt.Println("all Go interop checks passed")
}
