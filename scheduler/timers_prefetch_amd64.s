#include "textflag.h"

// func prefetchLines(p *uintptr, n int)
TEXT ·prefetchLines(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JZ done
loop:
	MOVQ (SI), AX
	PREFETCHT0 (AX)
	ADDQ $8, SI
	DECQ CX
	JNZ loop
done:
	RET

// func prefetchSpan(p uintptr, lines int)
TEXT ·prefetchSpan(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ p+0(FP), AX
	MOVQ lines+8(FP), CX
	TESTQ CX, CX
	JZ spandone
spanloop:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	DECQ CX
	JNZ spanloop
spandone:
	RET
