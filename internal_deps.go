package conveyor
import (_ "github.com/stretchr/testify/require"; _ "golang.org/x/sys/unix"; _ "golang.org/x/sys/cpu")

