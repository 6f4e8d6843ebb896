//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// newProcessGroup leaves cmd as it is: there are no Unix process groups
// here.
func newProcessGroup(*exec.Cmd) {}

// interruptProcessGroup kills p: an interrupt cannot be sent to another
// process here.
func interruptProcessGroup(p *os.Process) { _ = p.Kill() }

// killProcessGroup kills p (its own children are not reached).
func killProcessGroup(p *os.Process) { _ = p.Kill() }
