// Pod Security "restricted" check of Kubernetes manifests with the official evaluator,
// k8s.io/pod-security-admission: the code the API server's admission plugin runs.
// Usage: psa FILE.yaml...  Prints one JSON object per pod template found, with the
// evaluator's verdict; exits 0 (the caller asserts on the verdicts).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	File      string   `json:"file"`
	Kind      string   `json:"kind"`
	Name      string   `json:"name"`
	Level     string   `json:"level"`
	Allowed   bool     `json:"allowed"`
	Forbidden []string `json:"forbidden"`
}

// podTemplate finds the pod metadata and spec inside the workload kinds the examples use.
func podTemplate(kind string, doc []byte) (*metav1.ObjectMeta, *corev1.PodSpec, string, error) {
	switch kind {
	case "Pod":
		var o corev1.Pod
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.ObjectMeta, &o.Spec, o.Name, err
	case "Deployment":
		var o appsv1.Deployment
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, o.Name, err
	case "DaemonSet":
		var o appsv1.DaemonSet
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, o.Name, err
	case "StatefulSet":
		var o appsv1.StatefulSet
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, o.Name, err
	case "Job":
		var o batchv1.Job
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, o.Name, err
	case "CronJob":
		var o batchv1.CronJob
		err := yaml.UnmarshalStrict(doc, &o)
		t := &o.Spec.JobTemplate.Spec.Template
		return &t.ObjectMeta, &t.Spec, o.Name, err
	}
	return nil, nil, "", nil
}

func main() {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	level := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	enc := json.NewEncoder(os.Stdout)
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		reader := utilyaml.NewYAMLReader(bufioReader(data))
		for {
			doc, err := reader.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
				os.Exit(2)
			}
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
				os.Exit(2)
			}
			podMeta, spec, name, err := podTemplate(meta.Kind, doc)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %s: %v\n", file, meta.Kind, err)
				os.Exit(2)
			}
			if spec == nil {
				continue // ConfigMap, ServiceAccount...: no pod to admit
			}
			result := policy.AggregateCheckResults(evaluator.EvaluatePod(level, podMeta, spec))
			v := verdict{File: file, Kind: meta.Kind, Name: name, Level: level.String(), Allowed: result.Allowed, Forbidden: []string{}}
			if !result.Allowed {
				v.Forbidden = append(v.Forbidden, result.ForbiddenReason()+": "+result.ForbiddenDetail())
			}
			if err := enc.Encode(v); err != nil {
				os.Exit(2)
			}
		}
	}
}

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }
