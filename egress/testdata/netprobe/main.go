// Command netprobe is the egress Docker test's program, run in
// containers FROM scratch: "serve ADDR" is the stand-in internet host;
// otherwise it runs its arguments as steps, one output line each:
// "get URL" fetches through the proxy the environment names
// (HTTP_PROXY), "direct HOST:PORT" opens a TCP connection with no proxy.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) == 2 && args[0] == "serve" {
		err := http.ListenAndServe(args[1], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "internet says hi to %s", r.Host)
		}))
		fmt.Println(err)
		os.Exit(1)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}
	for len(args) >= 2 {
		step, arg := args[0], args[1]
		args = args[2:]
		switch step {
		case "get":
			resp, err := c.Get(arg)
			if err != nil {
				fmt.Printf("get %s: error %v\n", arg, err)
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
			resp.Body.Close()
			fmt.Printf("get %s: %d %s\n", arg, resp.StatusCode, strings.TrimSpace(string(b)))
		case "direct":
			conn, err := net.DialTimeout("tcp", arg, 3*time.Second)
			if err != nil {
				fmt.Printf("direct %s: error %v\n", arg, err)
				continue
			}
			conn.Close()
			fmt.Printf("direct %s: connected\n", arg)
		}
	}
}
