package main

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// prometheusMetrics returns the meter provider the server's teamscim.Server reports to, and
// the handler of GET /metrics that serves its metrics in Prometheus's text format, through
// OpenTelemetry's Prometheus exporter on a registry of its own. shutdown stops the provider.
func prometheusMetrics() (mp metric.MeterProvider, handler http.Handler, shutdown func(), err error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	return provider, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		func() { _ = provider.Shutdown(context.Background()) }, nil
}
