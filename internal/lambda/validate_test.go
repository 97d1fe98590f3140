package lambda

import (
	"errors"
	"strings"
	"testing"
)

func validFunction() *Function {
	f := &Function{Name: "f", Runtime: "nodejs20.x", Handler: "index.handler", Role: "arn:aws:iam::000000000000:role/r"}
	f.ApplyDefaults()
	return f
}

func TestValidate(t *testing.T) {
	if err := validFunction().Validate(); err != nil {
		t.Fatalf("valid function rejected: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Function)
		want   string // substring of the message
	}{
		{"memory low", func(f *Function) { f.MemorySize = 127 }, "memorySize"},
		{"memory high", func(f *Function) { f.MemorySize = 10241 }, "memorySize"},
		{"timeout zero", func(f *Function) { f.Timeout = 0 }, "timeout"},
		{"timeout high", func(f *Function) { f.Timeout = 901 }, "timeout"},
		{"unknown runtime", func(f *Function) { f.Runtime = "cobol1.0" }, "runtime"},
		{"bad handler", func(f *Function) { f.Handler = "index" }, "Handler"},
		{"handler space", func(f *Function) { f.Handler = "index .handler" }, "handler"},
		{"bad name", func(f *Function) { f.Name = "no spaces" }, "functionName"},
		{"reserved env", func(f *Function) { f.Environment = map[string]string{"AWS_REGION": "x"} }, "reserved keys"},
		{"env key pattern", func(f *Function) { f.Environment = map[string]string{"1X": "x"} }, "environment.variables"},
		{"env too big", func(f *Function) { f.Environment = map[string]string{"BIG": strings.Repeat("x", 4094)} }, "4KB"},
		{"tmp too big", func(f *Function) { f.EphemeralStorage = 10241 }, "ephemeralStorage"},
		{"arch", func(f *Function) { f.Architectures = []string{"sparc"} }, "architectures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := validFunction()
			tt.mutate(f)
			err := f.Validate()
			if !errors.Is(err, ErrInvalidParameter) {
				t.Fatalf("error = %v, want InvalidParameterValueException", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("message %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestProvidedHandlerIsFree(t *testing.T) {
	f := validFunction()
	f.Runtime, f.Handler = "provided.al2023", "bootstrap"
	if err := f.Validate(); err != nil {
		t.Fatalf("provided handler rejected: %v", err)
	}
}

func TestAsErrorHidesInternals(t *testing.T) {
	e := AsError(errors.New("disk on fire at /secret/path"))
	if e.Code != "ServiceException" || strings.Contains(e.Message, "secret") {
		t.Fatalf("AsError = %+v", e)
	}
	nf := FunctionNotFound("arn:x")
	if got := AsError(nf); got != nf {
		t.Fatalf("AsError changed a catalog error: %v", got)
	}
}
