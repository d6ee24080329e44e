package main

import (
	"sort"
	"strconv"
	"strings"
)

// standardEnv are variables the agent is always given, by Warder or by
// Docker itself; the start-up line lists only the others.
var standardEnv = map[string]bool{
	"AGENT_ID": true, "AGENT_NAME": true, "AGENT_TYPE": true, "PORT": true, envConfig: true,
	"PATH": true, "HOSTNAME": true, "HOME": true, "TERM": true, envPooled: true,
}

func parseEnv(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// extraEnvNames lists the names, never the values, of the non-standard
// variables: values may be API keys.
func extraEnvNames(env map[string]string) []string {
	names := []string{}
	for k := range env {
		if k != "" && !standardEnv[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// quote leaves simple values bare and quotes the rest, so a log line stays
// one line and splits on spaces.
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\r\n\"=\\") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}
