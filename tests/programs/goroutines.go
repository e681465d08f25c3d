package main

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

func main() {
	var wg sync.WaitGroup
	results := make([]int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := 0
			for j := 0; j < 1000000; j++ {
				s += j % (i + 1)
			}
			results[i] = s
		}(i)
	}
	wg.Wait()
	fmt.Println("goroutines", results)
	ch := make(chan int)
	go func() { time.Sleep(20 * time.Millisecond); ch <- 42 }()
	fmt.Println("channel", <-ch)
	out, err := exec.Command("/bin/echo", "from", "child").Output()
	fmt.Printf("exec %q %v\n", out, err)
	f, _ := os.CreateTemp("", "x")
	f.WriteString("hello")
	f.Close()
	b, _ := os.ReadFile(f.Name())
	os.Remove(f.Name())
	fmt.Println("file", string(b))
}
