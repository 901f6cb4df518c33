// Command interop cross-checks spiffe-helper against go-spiffe, the official Go library:
//
//	interop load --svid F --key F --bundle F --trust-domain TD [--federated TD=F]...
//	             [--jwt-bundle F] [--jwt-jwks TD=F]... [--jwt-token F --audience A]
//	interop watch --addr unix:///path [--audience A] [--count N] [--timeout 20s]
//
// It prints one JSON document on stdout; anything go-spiffe rejects goes to stderr with
// exit code 1 (2 for usage errors).
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var out any
	var err error
	switch os.Args[1] {
	case "load":
		out, err = load(os.Args[2:])
	case "watch":
		out, err = watch(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop %s: REJECTED: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: interop load --svid F --key F --bundle F --trust-domain TD [--federated TD=F]... [--jwt-bundle F] [--jwt-jwks TD=F]... [--jwt-token F --audience A]")
	fmt.Fprintln(os.Stderr, "       interop watch --addr unix:///path [--audience A] [--count N] [--timeout 20s]")
	os.Exit(2)
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func parseFlags(fs *flag.FlagSet, args []string) {
	fs.Usage = usage
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		usage()
	}
}

type loadResult struct {
	SpiffeID         string         `json:"spiffe_id"`
	ChainLength      int            `json:"chain_length"`
	VerifiedChainLen int            `json:"verified_chain_length"`
	NotAfter         time.Time      `json:"not_after"`
	BundleCerts      int            `json:"bundle_cert_count"`
	Federated        map[string]int `json:"federated_bundle_cert_counts,omitempty"`
	JWTBundles       map[string]int `json:"jwt_bundle_key_counts,omitempty"`
	JWTSubject       string         `json:"jwt_subject,omitempty"`
	JWTAudience      []string       `json:"jwt_audience,omitempty"`
	JWTExpiry        *time.Time     `json:"jwt_expiry,omitempty"`
}

func load(args []string) (*loadResult, error) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	svidFile := fs.String("svid", "", "X509-SVID PEM file (leaf first)")
	keyFile := fs.String("key", "", "PKCS#8 PEM key file")
	bundleFile := fs.String("bundle", "", "X.509 bundle PEM file")
	tdName := fs.String("trust-domain", "", "trust domain of the SVID")
	jwtBundleFile := fs.String("jwt-bundle", "", "JWT bundle file in the Go spiffe-helper format")
	jwtTokenFile := fs.String("jwt-token", "", "file holding a JWT-SVID")
	audience := fs.String("audience", "", "audience the JWT-SVID must carry")
	var federated, jwks multiFlag
	fs.Var(&federated, "federated", "TD=FILE: a federated X.509 bundle file (repeatable)")
	fs.Var(&jwks, "jwt-jwks", "TD=FILE: a plain JWKS file of one trust domain (repeatable)")
	parseFlags(fs, args)
	if *svidFile == "" || *keyFile == "" || *bundleFile == "" || *tdName == "" ||
		(*jwtTokenFile != "" && (*audience == "" || (*jwtBundleFile == "" && len(jwks) == 0))) {
		usage()
	}

	td, err := spiffeid.TrustDomainFromString(*tdName)
	if err != nil {
		return nil, err
	}
	svid, err := x509svid.Load(*svidFile, *keyFile)
	if err != nil {
		return nil, err
	}
	bundle, err := x509bundle.Load(td, *bundleFile)
	if err != nil {
		return nil, err
	}
	id, chains, err := x509svid.Verify(svid.Certificates, bundle)
	if err != nil {
		return nil, err
	}
	if id != svid.ID {
		return nil, fmt.Errorf("verified ID %s differs from loaded ID %s", id, svid.ID)
	}
	res := &loadResult{
		SpiffeID:         id.String(),
		ChainLength:      len(svid.Certificates),
		VerifiedChainLen: len(chains[0]),
		NotAfter:         svid.Certificates[0].NotAfter,
		BundleCerts:      len(bundle.X509Authorities()),
	}

	for _, f := range federated {
		td, file := splitPair(f)
		b, err := x509bundle.Load(td, file)
		if err != nil {
			return nil, err
		}
		if res.Federated == nil {
			res.Federated = map[string]int{}
		}
		res.Federated[td.Name()] = len(b.X509Authorities())
	}

	if *jwtBundleFile == "" && len(jwks) == 0 {
		return res, nil
	}
	set := jwtbundle.NewSet()
	if *jwtBundleFile != "" {
		if set, err = loadJWTBundleFile(*jwtBundleFile); err != nil {
			return nil, err
		}
	}
	for _, f := range jwks {
		td, file := splitPair(f)
		b, err := jwtbundle.Load(td, file)
		if err != nil {
			return nil, err
		}
		set.Add(b)
	}
	res.JWTBundles = map[string]int{}
	for _, b := range set.Bundles() {
		res.JWTBundles[b.TrustDomain().Name()] = len(b.JWTAuthorities())
	}
	if *jwtTokenFile == "" {
		return res, nil
	}
	token, err := os.ReadFile(*jwtTokenFile)
	if err != nil {
		return nil, err
	}
	// The file holds the raw token, as the Go helper writes it: no trimming.
	jwt, err := jwtsvid.ParseAndValidate(string(token), set, []string{*audience})
	if err != nil {
		return nil, err
	}
	res.JWTSubject, res.JWTAudience, res.JWTExpiry = jwt.ID.String(), jwt.Audience, &jwt.Expiry
	return res, nil
}

// splitPair splits a TD=FILE flag value; a bad trust domain is a usage error.
func splitPair(v string) (spiffeid.TrustDomain, string) {
	name, file, ok := strings.Cut(v, "=")
	td, err := spiffeid.TrustDomainFromString(name)
	if !ok || err != nil {
		usage()
	}
	return td, file
}

// loadJWTBundleFile reads the Go spiffe-helper's JWT bundle file:
// {"<trust domain name>": "<standard base64 of that domain's JWKS JSON>"}.
func loadJWTBundleFile(path string) (*jwtbundle.Set, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]string
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("JWT bundle file %s: %w", path, err)
	}
	if len(doc) == 0 {
		return nil, fmt.Errorf("JWT bundle file %s: no trust domains", path)
	}
	set := jwtbundle.NewSet()
	for name, encoded := range doc {
		td, err := spiffeid.TrustDomainFromString(name)
		if err != nil {
			return nil, fmt.Errorf("JWT bundle file %s: key %q: %w", path, name, err)
		}
		jwks, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return nil, fmt.Errorf("JWT bundle file %s: %s: %w", path, name, err)
		}
		b, err := jwtbundle.Parse(td, jwks)
		if err != nil {
			return nil, fmt.Errorf("JWT bundle file %s: %s: %w", path, name, err)
		}
		set.Add(b)
	}
	return set, nil
}

type x509Summary struct {
	SpiffeID    string         `json:"spiffe_id"`
	Hint        string         `json:"hint"`
	ChainLength int            `json:"chain_length"`
	Serial      string         `json:"serial"`
	NotAfter    time.Time      `json:"not_after"`
	SVIDCount   int            `json:"svid_count"`
	Bundles     map[string]int `json:"bundle_cert_counts"`
}

type watchResult struct {
	X509Context x509Summary    `json:"x509_context"`
	X509Bundles map[string]int `json:"x509_bundle_cert_counts"`
	JWTBundles  map[string]int `json:"jwt_bundle_key_counts"`
	JWTSVID     *jwtSummary    `json:"jwt_svid,omitempty"`
	Updates     []x509Summary  `json:"updates"`
	WatchErrors []string       `json:"watch_errors"`
}

type jwtSummary struct {
	SpiffeID         string    `json:"spiffe_id"`
	Hint             string    `json:"hint"`
	Audience         []string  `json:"audience"`
	Expiry           time.Time `json:"expiry"`
	ValidatedByAPI   string    `json:"validated_by_agent"`
	ValidatedLocally string    `json:"validated_locally"`
}

func watch(args []string) (*watchResult, error) {
	fs := flag.NewFlagSet("watch", flag.ExitOnError)
	addr := fs.String("addr", "", "Workload API address, e.g. unix:///tmp/agent.sock")
	audience := fs.String("audience", "", "fetch and validate a JWT-SVID for this audience")
	count := fs.Int("count", 1, "X.509 context updates to wait for from WatchX509Context")
	timeout := fs.Duration("timeout", 20*time.Second, "give up after this long")
	parseFlags(fs, args)
	if *addr == "" {
		usage()
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(*addr))
	if err != nil {
		return nil, err
	}
	defer client.Close()

	x509Ctx, err := client.FetchX509Context(ctx)
	if err != nil {
		return nil, fmt.Errorf("FetchX509Context: %w", err)
	}
	res := &watchResult{X509Context: summarizeX509(x509Ctx), WatchErrors: []string{}}
	x509Bundles, err := client.FetchX509Bundles(ctx)
	if err != nil {
		return nil, fmt.Errorf("FetchX509Bundles: %w", err)
	}
	res.X509Bundles = countX509(x509Bundles)
	jwtBundles, err := client.FetchJWTBundles(ctx)
	if err != nil {
		return nil, fmt.Errorf("FetchJWTBundles: %w", err)
	}
	res.JWTBundles = map[string]int{}
	for _, b := range jwtBundles.Bundles() {
		res.JWTBundles[b.TrustDomain().Name()] = len(b.JWTAuthorities())
	}

	if *audience != "" {
		svid, err := client.FetchJWTSVID(ctx, jwtsvid.Params{Audience: *audience})
		if err != nil {
			return nil, fmt.Errorf("FetchJWTSVID: %w", err)
		}
		byAgent, err := client.ValidateJWTSVID(ctx, svid.Marshal(), *audience)
		if err != nil {
			return nil, fmt.Errorf("ValidateJWTSVID: %w", err)
		}
		local, err := jwtsvid.ParseAndValidate(svid.Marshal(), jwtBundles, []string{*audience})
		if err != nil {
			return nil, fmt.Errorf("jwtsvid.ParseAndValidate with the fetched JWT bundles: %w", err)
		}
		res.JWTSVID = &jwtSummary{
			SpiffeID: svid.ID.String(), Hint: svid.Hint, Audience: svid.Audience, Expiry: svid.Expiry,
			ValidatedByAPI: byAgent.ID.String(), ValidatedLocally: local.ID.String(),
		}
	}

	// The first update is the current state; later ones are the agent's rotations.
	w := &watcher{ctx: ctx, want: *count, cancel: cancel, result: res}
	err = client.WatchX509Context(ctx, w)
	if len(res.Updates) < *count {
		return nil, fmt.Errorf("WatchX509Context: %d of %d updates within %v (%v); watch errors: %q", len(res.Updates), *count, *timeout, err, res.WatchErrors)
	}
	return res, nil
}

type watcher struct {
	ctx    context.Context
	want   int
	cancel context.CancelFunc
	result *watchResult
}

func (w *watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	w.result.Updates = append(w.result.Updates, summarizeX509(c))
	if len(w.result.Updates) >= w.want {
		w.cancel()
	}
}

func (w *watcher) OnX509ContextWatchError(err error) {
	if w.ctx.Err() == nil { // not the cancellation that ends the watch
		w.result.WatchErrors = append(w.result.WatchErrors, err.Error())
	}
}

func summarizeX509(c *workloadapi.X509Context) x509Summary {
	svid := c.DefaultSVID()
	leaf := svid.Certificates[0]
	return x509Summary{
		SpiffeID: svid.ID.String(), Hint: svid.Hint, ChainLength: len(svid.Certificates),
		Serial: leaf.SerialNumber.Text(16), NotAfter: leaf.NotAfter, SVIDCount: len(c.SVIDs),
		Bundles: countX509(c.Bundles),
	}
}

func countX509(set *x509bundle.Set) map[string]int {
	counts := map[string]int{}
	for _, b := range set.Bundles() {
		counts[b.TrustDomain().Name()] = len(b.X509Authorities())
	}
	return counts
}
