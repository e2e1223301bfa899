package teamscim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/teamscim/teamscim"
)

// ExampleConfig_meterProvider gives the Server an OpenTelemetry meter provider (here the
// SDK's manual reader; a host uses its Prometheus or OTLP exporter) and reads what one
// identity provider request reports: the request, by operation and status, and its outcome.
func ExampleConfig_meterProvider() {
	reader := sdkmetric.NewManualReader()
	srv, secret := readyServer(teamscim.Config{ // a team with SCIM on and a key
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})

	r := httptest.NewRequest(http.MethodPost, "/Users", strings.NewReader(
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@acme.example"}`))
	r.Header.Set("Authorization", "Bearer "+secret)
	srv.ServeHTTP(httptest.NewRecorder(), r)

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				op, _ := p.Attributes.Value("scim.operation")
				status, _ := p.Attributes.Value("http.response.status_code")
				fmt.Println(m.Name, op.Emit(), status.Emit(), p.Count)
			}
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				outcome, _ := p.Attributes.Value("teamscim.outcome")
				fmt.Println(m.Name, outcome.Emit(), p.Value)
			}
		}
	}
	// Output:
	// scim.server.request.duration users.create 201 1
	// teamscim.provisioning.outcomes created 1
}
