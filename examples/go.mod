// The examples are one Go module so that the real toolchain can build each of them
// (`cd examples && go build ./hello`) as the oracle for `goasm run hello/hello.s`.
module example

go 1.27
