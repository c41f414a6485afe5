package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// Typed partial views of the resources promoter reads. Only the fields
// promoter needs are declared; everything else passes through untouched
// because promoter patches, never rewrites, these resources.

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type object struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
}

type virtualService struct {
	object `yaml:",inline"`
	Spec   struct {
		Hosts []string    `yaml:"hosts"`
		HTTP  []httpRoute `yaml:"http"`
	} `yaml:"spec"`
}

type httpRoute struct {
	Name  string             `yaml:"name,omitempty"`
	Match []any              `yaml:"match,omitempty"`
	Route []routeDestination `yaml:"route,omitempty"`
}

type routeDestination struct {
	Destination struct {
		Host   string `yaml:"host"`
		Subset string `yaml:"subset,omitempty"`
	} `yaml:"destination"`
	Weight *int `yaml:"weight,omitempty"`
}

type destinationRule struct {
	object `yaml:",inline"`
	Spec   struct {
		Host    string `yaml:"host"`
		Subsets []struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"subsets"`
	} `yaml:"spec"`
}

type deployment struct {
	object `yaml:",inline"`
	Spec   struct {
		Replicas *int32 `yaml:"replicas,omitempty"`
		Template struct {
			Spec struct {
				Containers []struct {
					Name  string `yaml:"name"`
					Image string `yaml:"image"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// manifest is one built resource: its identity and its raw node.
type manifest struct {
	object
	node *yaml.Node
}

func (m manifest) decode(v any) error { return m.node.Decode(v) }

// splitManifests parses a YAML stream of built resources.
func splitManifests(data []byte) ([]manifest, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []manifest
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading built manifests: %w", err)
		}
		if len(n.Content) == 0 {
			continue
		}
		var o object
		if err := n.Decode(&o); err != nil {
			return nil, fmt.Errorf("reading built manifests: %w", err)
		}
		out = append(out, manifest{object: o, node: n.Content[0]})
	}
}

// find returns the one manifest of the given kind, name and namespace
// (namespace "" matches any).
func find(ms []manifest, group, kind, name, namespace string) (manifest, error) {
	return findAs(ms, group, kind, name, namespace, nil)
}

// findAs is find over resources that the overlay's naming n (nil: none)
// renames when it builds them: name and namespace may be given as built or
// as in ms.
func findAs(ms []manifest, group, kind, name, namespace string, n *naming) (manifest, error) {
	var found []manifest
	var names []string
	for _, m := range ms {
		if m.Kind != kind || groupOf(m.APIVersion) != group {
			continue
		}
		names = append(names, qualified(n.namespace(m.Metadata.Namespace), n.name(m.Metadata.Name)))
		if (m.Metadata.Name == name || n.name(m.Metadata.Name) == name) &&
			(namespace == "" || m.Metadata.Namespace == "" || m.Metadata.Namespace == namespace || n.namespace(m.Metadata.Namespace) == namespace) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 0:
		return manifest{}, fmt.Errorf("%s %s not found in the overlay (%ss as built: %s)", kind, qualified(namespace, name), kind, listOrNone(names))
	case 1:
		return found[0], nil
	}
	return manifest{}, fmt.Errorf("%s %s is ambiguous: %d resources match", kind, qualified(namespace, name), len(found))
}

func groupOf(apiVersion string) string {
	for i := range len(apiVersion) {
		if apiVersion[i] == '/' {
			return apiVersion[:i]
		}
	}
	return ""
}

func qualified(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// gatewayRoute is a Gateway API HTTPRoute or GRPCRoute
// (gateway.networking.k8s.io/v1): the two share the shape of rules and
// backendRefs that promoter reads.
type gatewayRoute struct {
	object `yaml:",inline"`
	Spec   struct {
		Rules []gatewayRule `yaml:"rules"`
	} `yaml:"spec"`
}

type gatewayRule struct {
	Name        string              `yaml:"name,omitempty"`
	BackendRefs []gatewayBackendRef `yaml:"backendRefs,omitempty"`
}

type gatewayBackendRef struct {
	Group     *string `yaml:"group,omitempty"`
	Kind      *string `yaml:"kind,omitempty"`
	Name      string  `yaml:"name"`
	Namespace string  `yaml:"namespace,omitempty"`
	Weight    *int    `yaml:"weight,omitempty"`
}

// isService reports whether the backendRef names a core Service (the
// default when group and kind are not given).
func (r gatewayBackendRef) isService() bool {
	return (r.Group == nil || *r.Group == "") && (r.Kind == nil || *r.Kind == "Service")
}

// label names the backendRef in messages: "Service podinfo", "ServiceImport
// multicluster.x-k8s.io/podinfo".
func (r gatewayBackendRef) label() string {
	if r.isService() {
		return "Service " + r.Name
	}
	kind, group := "Service", ""
	if r.Kind != nil {
		kind = *r.Kind
	}
	if r.Group != nil {
		group = *r.Group + "/"
	}
	return kind + " " + group + r.Name
}

// routeView is the split route of either kind as promoter compares it:
// its rules (a VirtualService's HTTP routes) and their destinations (its
// route destinations, or a Gateway API rule's backendRefs).
type routeView struct {
	APIVersion, Name, Namespace string
	Annotations                 map[string]string
	Rules                       []ruleView
}

type ruleView struct {
	Name  string
	Dests []destView
}

type destView struct {
	Host, Subset string
	// Service is false for a backendRef to anything but a core Service.
	Service bool
	Weight  *int
}

// decodeRoute reads a built VirtualService, HTTPRoute or GRPCRoute.
func decodeRoute(m manifest, kind string) (routeView, error) {
	v := routeView{APIVersion: m.APIVersion, Name: m.Metadata.Name, Namespace: m.Metadata.Namespace, Annotations: m.Metadata.Annotations}
	if kind == "VirtualService" {
		var vs virtualService
		if err := m.decode(&vs); err != nil {
			return v, err
		}
		for _, r := range vs.Spec.HTTP {
			rv := ruleView{Name: r.Name}
			for _, d := range r.Route {
				rv.Dests = append(rv.Dests, destView{Host: d.Destination.Host, Subset: d.Destination.Subset, Service: true, Weight: d.Weight})
			}
			v.Rules = append(v.Rules, rv)
		}
		return v, nil
	}
	var gr gatewayRoute
	if err := m.decode(&gr); err != nil {
		return v, err
	}
	for _, r := range gr.Spec.Rules {
		rv := ruleView{Name: r.Name}
		for _, d := range r.BackendRefs {
			rv.Dests = append(rv.Dests, destView{Host: d.Name, Service: d.isService(), Weight: d.Weight})
		}
		v.Rules = append(v.Rules, rv)
	}
	return v, nil
}
