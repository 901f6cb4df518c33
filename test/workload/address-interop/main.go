// Command address-interop reads a JSON array of Workload API endpoint addresses on stdin and
// prints, for each, what go-spiffe's workloadapi.TargetFromAddress makes of it: the gRPC target
// or the error. The second opinion for src/workload/address.ts.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

type verdict struct {
	Target string `json:"target,omitempty"`
	Error  string `json:"error,omitempty"`
}

func main() {
	var inputs []string
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := make([]verdict, len(inputs))
	for i, in := range inputs {
		if target, err := workloadapi.TargetFromAddress(in); err != nil {
			out[i].Error = err.Error()
		} else {
			out[i].Target = target
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
