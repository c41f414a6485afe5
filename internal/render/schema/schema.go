// Package schema ships the OpenAPI schemas of the resources promoter
// checks before it pushes: the CustomResourceDefinitions of VirtualService
// and DestinationRule from the istio.io/api module, and those of HTTPRoute,
// GRPCRoute and Gateway from the sigs.k8s.io/gateway-api module's standard
// channel.
package schema

import _ "embed"

//go:generate go run gen.go
//go:generate go run gengateway.go

// IstioNetworking holds the CustomResourceDefinitions of VirtualService and
// DestinationRule as a YAML stream.
//
//go:embed istio-networking.gen.yaml
var IstioNetworking []byte

// GatewayAPIRoutes holds the CustomResourceDefinitions of Gateway,
// HTTPRoute and GRPCRoute (gateway.networking.k8s.io, standard channel) as
// a YAML stream.
//
//go:embed gateway-api.gen.yaml
var GatewayAPIRoutes []byte
