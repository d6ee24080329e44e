package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

// probe is `warder-agent probe HOST:PORT`: it exits 0 if a TCP connection
// to the address opens within 3 s, 1 if not. It lets a test (or an
// operator, through docker exec) check from inside an agent's container
// what the agent can reach; the image has no shell or netcat for that.
func probe(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: warder-agent probe HOST:PORT")
		return 2
	}
	c, err := net.DialTimeout("tcp", args[0], 3*time.Second)
	if err != nil {
		fmt.Println("unreachable:", err)
		return 1
	}
	c.Close()
	fmt.Println("reachable:", args[0])
	return 0
}
