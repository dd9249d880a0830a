//go:build !unix

package factors

import "os/exec"

// killTree leaves exec's default, killing the program itself, where there are no process groups.
func killTree(*exec.Cmd) {}
