package main

// The hand-written guard prints what the lowered flow of examples/tour
// prints.
func Example() {
	main()
	// Output:
	// guard sees orc
	// guard sees troll
	// guard saw 2 intruders
}
