// Package schema ships the OpenAPI schemas of the Istio resources promoter
// checks before it pushes: the CustomResourceDefinitions of VirtualService
// and DestinationRule from the istio.io/api module.
package schema

import _ "embed"

//go:generate go run gen.go

// IstioNetworking holds the CustomResourceDefinitions of VirtualService and
// DestinationRule as a YAML stream.
//
//go:embed istio-networking.gen.yaml
var IstioNetworking []byte
