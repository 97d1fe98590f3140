//go:build !linux

package sandbox

import "errors"

// Init does nothing outside Linux: there is no linux sandbox to set up.
func Init() {}

func startLinux(Spec) (*Process, error) {
	return nil, errors.New("start sandbox: the linux sandbox needs Linux")
}
