package tally

// Explain says what r makes of p, for people checking a configuration (edgecam detect):
// dropped is why it is not counted (see Dropped), or "" when it is, and zones then are the names
// of the zones that count it (see Zone.Holds), in the order of r.Zones. It follows Keep and
// TallyInto exactly, so it says what the daemon counts.
func (r Rules) Explain(p Prediction) (dropped string, zones []string) {
	if why := r.Dropped(p); why != "" {
		return why, nil
	}
	for i := range r.Zones {
		if r.Zones[i].Holds(p) {
			zones = append(zones, r.Zones[i].Name)
		}
	}
	return "", zones
}
