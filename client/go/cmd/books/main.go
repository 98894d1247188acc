// Command books is a command-line client of books.BookService with the output
// of the Google Cloud gRPC codelab's client.go
// (https://codelabs.developers.google.com/codelabs/cloud-grpc): list, insert,
// get, delete and watch, responses printed as indented JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/cqmux/cqmux/client/go/internal/clientflags"
	pb "github.com/cqmux/cqmux/client/go/pb/books"

	"google.golang.org/grpc"
)

var (
	address = flag.String("address", "localhost:50051", "Address of service")
	timeout = flag.Duration("timeout", 10*time.Second, "Deadline of each call (watch: 0 = none)")
	count   = flag.Int("count", 0, "watch: stop after this many books (0 = never)")
	tlsArgs = clientflags.RegisterTLS(flag.CommandLine)
	token   = clientflags.RegisterToken(flag.CommandLine)
)

func usage() {
	fmt.Println(`books is a command-line client for the cqmux books service

Usage:
  books [-address=HOST:PORT] list                            List all books
  books [-address=HOST:PORT] insert <id> <title> <author>    Insert a book
  books [-address=HOST:PORT] get <id>                        Get a book by its ID
  books [-address=HOST:PORT] delete <id>                     Delete a book by its ID
  books [-address=HOST:PORT] [-count=N] watch                Watch for inserted books

TLS and tokens (before the command):
  -tls                  TLS, verifying the server with the system's roots
  -tls-ca=FILE          PEM root certificate(s) of the server's CA (implies -tls)
  -tls-cert=FILE        PEM client certificate for mutual TLS, with
  -tls-key=FILE         its private key (imply -tls)
  -tls-server-name=NAME name the server's certificate must carry
  -token=TOKEN          write token for insert and delete on servers run with
                        --auth-tokens (default $CQMUX_TOKEN)`)
}

func getClient() (*grpc.ClientConn, pb.BookServiceClient) {
	transport, err := tlsArgs.DialOption()
	if err != nil {
		log.Fatalf("did not connect: %v", err)
	}
	conn, err := grpc.NewClient(*address, append(clientflags.TokenOption(*token), transport)...)
	if err != nil {
		log.Fatalf("did not connect: %v", err)
	}
	return conn, pb.NewBookServiceClient(conn)
}

// printRespAsJson prints the response as the codelab does.
func printRespAsJson(r any) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		log.Fatalf("printResp (%v): %v", r, err)
	}
	fmt.Println(string(b))
}

func parseID(args []string, usage string) int32 {
	if len(args) != 1 {
		log.Fatalf("usage: %s", usage)
	}
	id, err := strconv.ParseInt(args[0], 10, 32)
	if err != nil {
		log.Fatalf("Provided ID %v invalid: %v", args[0], err)
	}
	return int32(id)
}

func callContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), *timeout)
}

func doList(args []string) {
	conn, client := getClient()
	defer conn.Close()
	ctx, cancel := callContext()
	defer cancel()
	rs, err := client.List(ctx, &pb.Empty{})
	if err != nil {
		log.Fatalf("List books: %v", err)
	}
	fmt.Printf("Server sent %v book(s).\n", len(rs.GetBooks()))
	printRespAsJson(rs)
}

func doInsert(args []string) {
	if len(args) != 3 {
		log.Fatalf("usage: books insert <id> <title> <author>")
	}
	id := parseID(args[:1], "books insert <id> <title> <author>")
	book := &pb.Book{Id: id, Title: args[1], Author: args[2]}
	conn, client := getClient()
	defer conn.Close()
	ctx, cancel := callContext()
	defer cancel()
	r, err := client.Insert(ctx, book)
	if err != nil {
		log.Fatalf("Insert book (%v): %v", id, err)
	}
	fmt.Println("Server response:")
	printRespAsJson(r)
}

func doGet(args []string) {
	id := parseID(args, "books get <id>")
	conn, client := getClient()
	defer conn.Close()
	ctx, cancel := callContext()
	defer cancel()
	r, err := client.Get(ctx, &pb.BookIdRequest{Id: id})
	if err != nil {
		log.Fatalf("Get book (%v): %v", id, err)
	}
	fmt.Println("Server response:")
	printRespAsJson(r)
}

func doDelete(args []string) {
	id := parseID(args, "books delete <id>")
	conn, client := getClient()
	defer conn.Close()
	ctx, cancel := callContext()
	defer cancel()
	r, err := client.Delete(ctx, &pb.BookIdRequest{Id: id})
	if err != nil {
		log.Fatalf("Delete book (%v): %v", id, err)
	}
	fmt.Println("Server response:")
	printRespAsJson(r)
}

func doWatch(args []string) {
	conn, client := getClient()
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if *timeout > 0 && isFlagSet("timeout") {
		ctx, cancel = context.WithTimeout(context.Background(), *timeout)
	}
	defer cancel()
	stream, err := client.Watch(ctx, &pb.Empty{})
	if err != nil {
		log.Fatalf("Watch books: %v", err)
	}
	for received := 0; *count == 0 || received < *count; received++ {
		book, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatalf("Watch books stream: %v", err)
		}
		fmt.Println("Server stream data received:")
		printRespAsJson(book)
	}
}

func isFlagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func main() {
	flag.Parse()
	commands := map[string]func([]string){
		"list": doList, "insert": doInsert, "get": doGet, "delete": doDelete, "watch": doWatch,
	}
	cmd, ok := commands[flag.Arg(0)]
	if !ok {
		usage()
		os.Exit(2)
	}
	cmd(flag.Args()[1:])
}
