// The Go spiffe-helper's cmd_args reader (encoding/csv, ' ' separator, one record), as an
// independent reference for test/config/cmd-args.test.ts. Reads a JSON array of strings on
// stdin, writes one JSON result per input: the arguments or the error, and whether a further
// record (which the Go helper ignores) follows.
package main

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"strings"
)

type result struct {
	Args  []string `json:"args"`
	Error string   `json:"error,omitempty"`
	More  bool     `json:"more"`
}

func main() {
	var inputs []string
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		panic(err)
	}
	out := make([]result, 0, len(inputs))
	for _, in := range inputs {
		if in == "" {
			out = append(out, result{Args: []string{}})
			continue
		}
		r := csv.NewReader(strings.NewReader(in))
		r.Comma = ' '
		args, err := r.Read()
		if err != nil {
			out = append(out, result{Error: err.Error()})
			continue
		}
		_, next := r.Read()
		out = append(out, result{Args: args, More: next != io.EOF})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
