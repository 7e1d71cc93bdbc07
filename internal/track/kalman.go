package track

// kalman is a constant-velocity Kalman filter of a box (centre x, centre y, width, height), as in
// SORT and ByteTrack. Their 8-dimensional filter moves each coordinate with its own velocity,
// measures positions only and adds diagonal noise, so its covariance stays block-diagonal: it is
// exactly four independent filters of (position, velocity), which is what this computes, without
// a matrix library and without allocating.
type kalman struct {
	x [4]float64    // cx, cy, w, h
	v [4]float64    // their velocities per frame
	p [4][3]float64 // per coordinate: var(pos), cov(pos, vel), var(vel)
}

// Noise weights of ByteTrack's filter (relative to the box height).
const (
	stdPos = 1.0 / 20
	stdVel = 1.0 / 160
)

func boxToState(b [4]float64) [4]float64 {
	return [4]float64{(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]}
}

func (k *kalman) box() [4]float64 {
	w, h := max(k.x[2], 0), max(k.x[3], 0)
	return [4]float64{k.x[0] - w/2, k.x[1] - h/2, k.x[0] + w/2, k.x[1] + h/2}
}

func (k *kalman) init(b [4]float64) {
	k.x = boxToState(b)
	k.v = [4]float64{}
	h := k.x[3]
	for i := range k.p {
		sp, sv := 2*stdPos*h, 10*stdVel*h
		k.p[i] = [3]float64{sp * sp, 0, sv * sv}
	}
}

func (k *kalman) predict() {
	h := k.x[3]
	qp, qv := stdPos*h, stdVel*h
	qp, qv = qp*qp, qv*qv
	for i := range k.x {
		k.x[i] += k.v[i]
		p := &k.p[i]
		// P = F P F' + Q with F = [[1, 1], [0, 1]]
		pp := p[0] + 2*p[1] + p[2] + qp
		pv := p[1] + p[2]
		vv := p[2] + qv
		*p = [3]float64{pp, pv, vv}
	}
	if k.x[2] < 0 { // a shrinking box must not turn inside out
		k.x[2], k.v[2] = 0, 0
	}
	if k.x[3] < 0 {
		k.x[3], k.v[3] = 0, 0
	}
}

func (k *kalman) update(b [4]float64) {
	z := boxToState(b)
	r := stdPos * k.x[3]
	r *= r
	for i := range k.x {
		p := &k.p[i]
		s := p[0] + r
		if s <= 0 {
			k.x[i], k.v[i] = z[i], 0
			continue
		}
		gp, gv := p[0]/s, p[1]/s
		y := z[i] - k.x[i]
		k.x[i] += gp * y
		k.v[i] += gv * y
		// P = (I - K H) P
		*p = [3]float64{(1 - gp) * p[0], (1 - gp) * p[1], p[2] - gv*p[1]}
	}
}
