package portal

import (
	"fmt"
	"html/template"
	"strings"

	"rsc.io/qr"
)

// qrQuiet is the blank margin around the code, in modules, that scanners need.
const qrQuiet = 4

// qrSVG draws text as a QR code in an inline SVG: one path of black modules on white. Inline
// markup needs no image URL, so the page's CSP (img-src 'self') holds. The output holds only
// numbers and fixed markup, never text, so it is safe to mark as HTML.
func qrSVG(text string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("portal: qr code: %w", err)
	}
	size := code.Size + 2*qrQuiet
	var d strings.Builder
	for y := 0; y < code.Size; y++ {
		for x := 0; x < code.Size; {
			if !code.Black(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < code.Size && code.Black(x+run, y) {
				run++
			}
			fmt.Fprintf(&d, "M%d %dh%dv1h-%dz", x+qrQuiet, y+qrQuiet, run, run)
			x += run
		}
	}
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" `+
		`aria-labelledby="qr-title" shape-rendering="crispEdges"><title id="qr-title">QR code for your authenticator app</title>`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`, size, size, size, size, d.String())
	return template.HTML(svg), nil
}
