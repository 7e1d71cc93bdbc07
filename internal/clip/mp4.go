package clip

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	amp4 "github.com/abema/go-mp4"

	"github.com/edgecam/edgecam/internal/videodec"
)

// The MP4 (ISO BMFF, also QuickTime .mov) demuxer: the first video track's samples, plain
// (stbl sample tables) or fragmented (moof/trun), become the Annex-B access units the rest of the
// package decodes, with their presentation times. Box parsing is github.com/abema/go-mp4's; it
// bounds every table by its box's size, and the samples are checked against the file's size
// before anything is allocated for them.

func init() {
	// go-mp4 v1.4.1 knows avc1, hvc1 and hev1 sample entries, not avc3 (parameter sets in band,
	// from some encoders and cameras): the same visual sample entry.
	if avc3 := amp4.StrToBoxType("avc3"); !avc3.IsSupported(amp4.Context{}) {
		amp4.AddAnyTypeBoxDef(&amp4.VisualSampleEntry{}, avc3)
	}
}

// reencodeError is a clip that must be re-encoded; Open names the file in the command.
type reencodeError struct {
	why  string
	file string
}

func (e *reencodeError) Error() string {
	in, out := "IN", "OUT.mp4"
	if e.file != "" {
		in, out = e.file, strings.TrimSuffix(e.file, filepath.Ext(e.file))+"-h264.mp4"
	}
	return fmt.Sprintf("%s; re-encode it: ffmpeg -i %s -c:v libx264 -an %s", e.why, in, out)
}

// mp4Track is what the boxes of one track say.
type mp4Track struct {
	id         uint32
	handler    string // "vide" for video
	timescale  uint32
	entry      string // the sample entry's type: avc1, hvc1, mp4v, av01...
	codec      videodec.Codec
	ok         bool // an H.264 or H.265 sample entry with its configuration box
	lengthSize int
	params     [3][]byte

	stts     []amp4.SttsEntry
	ctts     []amp4.CttsEntry
	cttsV1   bool
	stss     []uint32
	hasStss  bool
	stsc     []amp4.StscEntry
	stszSize uint32 // every sample's size, or 0: sizes in stszSizes
	stszN    uint32
	sizes    []uint32
	chunks   []uint64
	elst     []amp4.ElstEntry
	elstV1   bool

	fragment []mp4Sample // samples of the movie fragments, in decoding order
}

// mp4Sample is one sample of the video track.
type mp4Sample struct {
	offset, size uint64
	dts          int64
	cto          int64 // composition time offset
	sync         bool
}

// isMP4 reports whether data starts like an ISO BMFF file: a box type it begins with.
func isMP4(data []byte) bool {
	if len(data) < 8 {
		return false
	}
	switch string(data[4:8]) {
	case "ftyp", "moov", "mdat", "free", "skip", "wide", "styp", "moof", "pnot":
		return true
	}
	return false
}

// ParseMP4 reads the first H.264 or H.265 video track of data, an MP4 or MOV file, into access
// units with their presentation times.
func ParseMP4(data []byte) (*Clip, error) {
	var (
		tracks []*mp4Track
		cur    *mp4Track
		byID   = func(id uint32) *mp4Track {
			for _, t := range tracks {
				if t.id == id {
					return t
				}
			}
			return nil
		}
		moov    bool
		cutOff  bool   // a top-level box runs past the end of the file
		scale   uint32 // the movie's timescale (mvhd), of the edit lists' durations
		trex    = map[uint32]amp4.Trex{}
		frag    *mp4Track // the track of the traf being read
		moofAt  uint64
		tfdt    int64
		hasTfdt bool
		tfhd    amp4.Tfhd
		nextDTS = map[uint32]int64{}
		dataEnd uint64 // end of the previous trun's data, where the next one without an offset starts
	)
	r := bytes.NewReader(data)
	_, err := amp4.ReadBoxStructure(r, func(h *amp4.ReadHandle) (any, error) {
		payload := func() (amp4.IBox, error) {
			b, _, err := h.ReadPayload()
			return b, err
		}
		if len(h.Path) == 1 && h.BoxInfo.Offset+h.BoxInfo.Size > uint64(len(data)) {
			cutOff = true
		}
		switch h.BoxInfo.Type.String() {
		case "moov":
			moov = true
			return h.Expand()
		case "mdia", "minf", "stbl", "stsd", "edts", "mvex":
			return h.Expand()
		case "trak":
			cur = &mp4Track{}
			tracks = append(tracks, cur)
			return h.Expand()
		case "moof":
			moofAt = h.BoxInfo.Offset
			dataEnd = moofAt
			return h.Expand()
		case "traf":
			frag, hasTfdt = nil, false
			return h.Expand()
		}
		if len(h.Path) >= 2 && h.Path[0] == amp4.BoxTypeMoof() {
			return nil, readFragmentBox(h, payload, byID, trex, &frag, &tfhd, &tfdt, &hasTfdt, nextDTS, moofAt, &dataEnd, uint64(len(data)))
		}
		if t := h.BoxInfo.Type; len(h.Path) == 2 && t == amp4.BoxTypeMvhd() || len(h.Path) == 3 && t == amp4.BoxTypeTrex() {
			b, err := payload()
			if err != nil {
				return nil, err
			}
			switch b := b.(type) {
			case *amp4.Mvhd:
				scale = b.Timescale
			case *amp4.Trex:
				trex[b.TrackID] = *b
			}
			return nil, nil
		}
		if cur == nil || len(h.Path) < 2 || h.Path[1] != amp4.BoxTypeTrak() {
			return nil, nil
		}
		return nil, readTrackBox(h, payload, cur)
	})
	if err != nil && cutOff && fragmented(tracks) {
		err = nil // a cut-off fragmented file: the fragments before the cut are whole
	}
	if err != nil && cutOff {
		return nil, fmt.Errorf("the file is cut off (%v): a recording that was cut off cannot be read, record again (ffmpeg -t SECONDS ends it cleanly)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("not an MP4/MOV file, or a damaged one: %v", err)
	}
	if !moov {
		return nil, errors.New("the file has no movie box (moov): the recording was cut off before it was finished, or this is not an MP4/MOV file; a cut-off recording cannot be read, record again (ffmpeg -t SECONDS ends it cleanly)")
	}
	var video *mp4Track
	for _, t := range tracks {
		if t.handler == "vide" {
			video = t
			break
		}
	}
	if video == nil {
		return nil, errors.New("the file has no video track")
	}
	if !video.ok {
		name := video.entry
		if name == "" {
			name = "an unknown codec"
		}
		return nil, &reencodeError{why: fmt.Sprintf("its video is %s: edgecam reads H.264 (avc1, avc3) and H.265 (hvc1, hev1) clips", codecName(name))}
	}
	if video.timescale == 0 {
		return nil, errors.New("the video track has no timescale (mdhd)")
	}
	samples, err := video.samples(uint64(len(data)))
	if err != nil {
		return nil, err
	}
	return video.clip(data, samples, scale)
}

// fragmented reports whether a video track has samples in movie fragments.
func fragmented(tracks []*mp4Track) bool {
	for _, t := range tracks {
		if t.handler == "vide" && len(t.fragment) > 0 {
			return true
		}
	}
	return false
}

// codecName names a sample entry type for a user.
func codecName(entry string) string {
	switch entry {
	case "jpeg", "mjpa", "mjpb", "mjp2":
		return "Motion JPEG (" + entry + ")"
	case "av01":
		return "AV1 (av01)"
	case "vp08", "vp09":
		return "VP" + entry[3:] + " (" + entry + ")"
	case "mp4v":
		return "MPEG-4 Part 2 (mp4v)"
	case "encv":
		return "encrypted (encv)"
	}
	return entry
}

func readTrackBox(h *amp4.ReadHandle, payload func() (amp4.IBox, error), t *mp4Track) error {
	typ := h.BoxInfo.Type.String()
	if len(h.Path) >= 6 && h.Path[len(h.Path)-2] != amp4.BoxTypeStsd() && h.Path[len(h.Path)-3] == amp4.BoxTypeStsd() {
		// A box inside a sample entry: the decoder configuration.
		return readConfig(h, payload, t)
	}
	switch typ {
	case "tkhd", "mdhd", "hdlr", "stts", "ctts", "stss", "stsc", "stsz", "stco", "co64", "elst":
	default:
		if len(h.Path) >= 2 && h.Path[len(h.Path)-2] == amp4.BoxTypeStsd() {
			// A sample entry: the first one says the codec.
			if t.entry == "" {
				t.entry = typ
				switch typ {
				case "avc1", "avc3", "hvc1", "hev1":
					_, err := h.Expand()
					return err
				}
			}
		}
		return nil
	}
	b, err := payload()
	if err != nil {
		return err
	}
	switch b := b.(type) {
	case *amp4.Tkhd:
		t.id = b.TrackID
	case *amp4.Mdhd:
		t.timescale = b.Timescale
	case *amp4.Hdlr:
		if len(h.Path) == 4 { // mdia's; QuickTime has a data handler in minf too
			t.handler = string(b.HandlerType[:])
		}
	case *amp4.Stts:
		t.stts = b.Entries
	case *amp4.Ctts:
		t.ctts, t.cttsV1 = b.Entries, b.GetVersion() == 1
	case *amp4.Stss:
		t.stss, t.hasStss = b.SampleNumber, true
	case *amp4.Stsc:
		t.stsc = b.Entries
	case *amp4.Stsz:
		t.stszSize, t.stszN, t.sizes = b.SampleSize, b.SampleCount, b.EntrySize
	case *amp4.Stco:
		t.chunks = make([]uint64, len(b.ChunkOffset))
		for i, o := range b.ChunkOffset {
			t.chunks[i] = uint64(o)
		}
	case *amp4.Co64:
		t.chunks = b.ChunkOffset
	case *amp4.Elst:
		t.elst, t.elstV1 = b.Entries, b.GetVersion() == 1
	}
	return nil
}

// readConfig reads an avcC or hvcC box: the length size and the parameter sets.
func readConfig(h *amp4.ReadHandle, payload func() (amp4.IBox, error), t *mp4Track) error {
	typ := h.BoxInfo.Type.String()
	if (typ != "avcC" || t.entry[:3] != "avc") && (typ != "hvcC" || t.entry[:2] != "hv" && t.entry[:2] != "he") || t.ok {
		return nil
	}
	b, err := payload()
	if err != nil {
		return err
	}
	join := func(dst []byte, nal []byte) []byte {
		if len(dst) > 0 {
			dst = append(dst, 0, 0, 0, 1)
		}
		return append(dst, nal...)
	}
	switch b := b.(type) {
	case *amp4.AVCDecoderConfiguration:
		t.codec, t.lengthSize = videodec.H264, int(b.LengthSizeMinusOne)+1
		for _, p := range b.SequenceParameterSets {
			t.params[1] = join(t.params[1], p.NALUnit)
		}
		for _, p := range b.PictureParameterSets {
			t.params[2] = join(t.params[2], p.NALUnit)
		}
	case *amp4.HvcC:
		t.codec, t.lengthSize = videodec.H265, int(b.LengthSizeMinusOne)+1
		for _, a := range b.NaluArrays {
			for _, n := range a.Nalus {
				if len(n.NALUnit) == 0 {
					continue
				}
				if k := (n.NALUnit[0] >> 1) & 0x3F; k >= 32 && k <= 34 {
					t.params[k-32] = join(t.params[k-32], n.NALUnit)
				}
			}
		}
	default:
		return nil
	}
	if t.lengthSize == 3 {
		return fmt.Errorf("%s: NAL unit length size 3 is not allowed", typ)
	}
	t.ok = true
	return nil
}

// readFragmentBox reads the boxes of a movie fragment (tfhd, tfdt, trun) of the video track
// into its samples.
func readFragmentBox(h *amp4.ReadHandle, payload func() (amp4.IBox, error), byID func(uint32) *mp4Track, trexes map[uint32]amp4.Trex,
	frag **mp4Track, tfhd *amp4.Tfhd, tfdt *int64, hasTfdt *bool, nextDTS map[uint32]int64, moofAt uint64, dataEnd *uint64, fileSize uint64) error {
	switch h.BoxInfo.Type.String() {
	case "tfhd", "tfdt":
	case "trun":
		if *frag == nil {
			return nil
		}
		// Read here, not by go-mp4: its Trun unmarshaller appends sample_count entries even when
		// they hold no field (all defaults), so a hostile count allocates without bound.
		var buf bytes.Buffer
		if _, err := h.ReadData(&buf); err != nil {
			return err
		}
		run, err := parseTrun(buf.Bytes(), fileSize)
		if err != nil {
			return err
		}
		return addRun(*frag, run, tfhd, trexes, tfdt, hasTfdt, nextDTS, moofAt, dataEnd, fileSize)
	default:
		return nil
	}
	b, err := payload()
	if err != nil {
		return err
	}
	switch b := b.(type) {
	case *amp4.Tfhd:
		*tfhd = *b
		*frag = byID(b.TrackID)
		if t := *frag; t != nil && (t.handler != "vide" || !t.ok) {
			*frag = nil
		}
	case *amp4.Tfdt:
		*tfdt, *hasTfdt = int64(b.GetBaseMediaDecodeTime()), true
	}
	return nil
}

// trun is a track fragment run: per-sample fields, each present as flags say.
type trun struct {
	flags      uint32
	count      uint32
	dataOffset int32
	firstFlags uint32
	entries    []byte // count entries of entrySize bytes
	entrySize  int
	version    byte
}

const (
	trunDataOffset = 0x000001
	trunFirstFlags = 0x000004
	trunDuration   = 0x000100
	trunSize       = 0x000200
	trunFlags      = 0x000400
	trunCTO        = 0x000800
)

func parseTrun(b []byte, fileSize uint64) (trun, error) {
	be := func(b []byte) uint32 { return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) }
	var r trun
	if len(b) < 8 {
		return r, errors.New("trun box too short")
	}
	r.version, r.flags, r.count = b[0], be(b)&0xFFFFFF, be(b[4:])
	b = b[8:]
	for _, f := range []uint32{trunDataOffset, trunFirstFlags} {
		if r.flags&f == 0 {
			continue
		}
		if len(b) < 4 {
			return r, errors.New("trun box too short")
		}
		if f == trunDataOffset {
			r.dataOffset = int32(be(b))
		} else {
			r.firstFlags = be(b)
		}
		b = b[4:]
	}
	for _, f := range []uint32{trunDuration, trunSize, trunFlags, trunCTO} {
		if r.flags&f != 0 {
			r.entrySize += 4
		}
	}
	if uint64(r.count) > fileSize || uint64(r.count)*uint64(r.entrySize) > uint64(len(b)) {
		return r, fmt.Errorf("trun box lists %d samples it has no room for", r.count)
	}
	r.entries = b
	return r, nil
}

// addRun appends a run's samples to the track's.
func addRun(t *mp4Track, r trun, tfhd *amp4.Tfhd, trexes map[uint32]amp4.Trex, tfdt *int64, hasTfdt *bool, nextDTS map[uint32]int64, moofAt uint64, dataEnd *uint64, fileSize uint64) error {
	be := func(b []byte) uint32 { return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) }
	base := moofAt
	if tfhd.CheckFlag(0x000001) {
		base = tfhd.BaseDataOffset
	}
	pos := *dataEnd
	if r.flags&trunDataOffset != 0 {
		pos = uint64(int64(base) + int64(r.dataOffset))
	}
	// Every sample holds at least a NAL unit's length and a byte.
	if uint64(len(t.fragment))+uint64(r.count) > fileSize/uint64(t.lengthSize+1) {
		return errors.New("the movie fragments list more samples than the file has room for: it is damaged")
	}
	trex := trexes[t.id]
	dts := nextDTS[t.id]
	if *hasTfdt {
		dts, *hasTfdt = *tfdt, false
	}
	dur0 := pick(tfhd.CheckFlag(0x000008), tfhd.DefaultSampleDuration, trex.DefaultSampleDuration)
	size0 := pick(tfhd.CheckFlag(0x000010), tfhd.DefaultSampleSize, trex.DefaultSampleSize)
	flags0 := pick(tfhd.CheckFlag(0x000020), tfhd.DefaultSampleFlags, trex.DefaultSampleFlags)
	for i := 0; i < int(r.count); i++ {
		e := r.entries[i*r.entrySize:]
		field := func(f, def uint32) uint32 {
			if r.flags&f == 0 {
				return def
			}
			v := be(e)
			e = e[4:]
			return v
		}
		dur, size, flags := field(trunDuration, dur0), field(trunSize, size0), field(trunFlags, flags0)
		if i == 0 && r.flags&trunFirstFlags != 0 {
			flags = r.firstFlags
		}
		cto := int64(field(trunCTO, 0))
		if r.version > 0 {
			cto = int64(int32(cto))
		}
		t.fragment = append(t.fragment, mp4Sample{offset: pos, size: uint64(size), dts: dts, cto: cto, sync: flags&0x00010000 == 0})
		pos += uint64(size)
		dts += int64(dur)
	}
	*dataEnd = pos
	nextDTS[t.id] = dts
	return nil
}

func pick(ok bool, a, b uint32) uint32 {
	if ok {
		return a
	}
	return b
}

// samples lists the track's samples in decoding order from its sample tables (or its movie
// fragments), every one of them inside the file.
func (t *mp4Track) samples(fileSize uint64) ([]mp4Sample, error) {
	if len(t.fragment) > 0 {
		for i, s := range t.fragment {
			if s.offset+s.size > fileSize || s.offset+s.size < s.offset {
				if i == 0 {
					return nil, truncated(i, len(t.fragment))
				}
				// A fragmented file cut off: the samples before the cut are whole.
				return t.fragment[:i], nil
			}
		}
		return t.fragment, nil
	}
	n := uint64(t.stszN)
	if t.stszSize == 0 && uint64(len(t.sizes)) < n {
		return nil, fmt.Errorf("the sample size table (stsz) lists %d of %d samples", len(t.sizes), n)
	}
	// Every sample holds at least a NAL unit's length and a byte: a count above that is a lie.
	if n*uint64(t.lengthSize+1) > fileSize {
		return nil, fmt.Errorf("the video track claims %d samples in a file of %d bytes: the file is damaged or cut off", n, fileSize)
	}
	if n == 0 {
		return nil, errors.New("the video track has no samples (a fragmented file without fragments, or an empty recording)")
	}
	out := make([]mp4Sample, 0, n)
	// Sizes and offsets: chunk by chunk (stsc runs of chunks with the same sample count).
	for ci := 0; ci < len(t.stsc) && uint64(len(out)) < n; ci++ {
		e := t.stsc[ci]
		if e.FirstChunk == 0 || e.SamplesPerChunk == 0 {
			return nil, errors.New("the sample-to-chunk table (stsc) is damaged")
		}
		last := uint64(len(t.chunks)) // chunks of this run: FirstChunk .. next run's first - 1
		if ci+1 < len(t.stsc) {
			last = min(last, uint64(t.stsc[ci+1].FirstChunk)-1)
		}
		for c := uint64(e.FirstChunk) - 1; c < last && uint64(len(out)) < n; c++ {
			pos := t.chunks[c]
			for k := uint32(0); k < e.SamplesPerChunk && uint64(len(out)) < n; k++ {
				size := uint64(t.stszSize)
				if size == 0 {
					size = uint64(t.sizes[len(out)])
				}
				if pos+size > fileSize || pos+size < pos {
					return nil, truncated(len(out), int(n))
				}
				out = append(out, mp4Sample{offset: pos, size: size})
				pos += size
			}
		}
	}
	if uint64(len(out)) < n {
		return nil, fmt.Errorf("the chunk tables (stsc, stco) hold %d of the %d samples: the file is damaged", len(out), n)
	}
	// Decoding times.
	i, dts := 0, int64(0)
	for _, e := range t.stts {
		for k := uint32(0); k < e.SampleCount && i < len(out); k++ {
			out[i].dts = dts
			dts += int64(e.SampleDelta)
			i++
		}
	}
	for ; i < len(out); i++ { // a short table: the last delta goes on
		out[i].dts = dts
		if len(t.stts) > 0 {
			dts += int64(t.stts[len(t.stts)-1].SampleDelta)
		}
	}
	// Composition offsets.
	i = 0
	for _, e := range t.ctts {
		off := int64(e.SampleOffsetV0)
		if t.cttsV1 {
			off = int64(e.SampleOffsetV1)
		}
		for k := uint32(0); k < e.SampleCount && i < len(out); k++ {
			out[i].cto = off
			i++
		}
	}
	// Sync samples: all of them without an stss box.
	if !t.hasStss {
		for i := range out {
			out[i].sync = true
		}
	}
	for _, s := range t.stss {
		if s >= 1 && uint64(s) <= uint64(len(out)) {
			out[s-1].sync = true
		}
	}
	return out, nil
}

func truncated(i, n int) error {
	return fmt.Errorf("the file is cut off: picture %d of %d (and those after it) lies past its end; a cut-off recording cannot be read, record again", i+1, n)
}

// editShift is what the edit list moves the track's composition times by: the presentation
// time of composition time t is t - shift (an empty edit first delays the track, the media time
// of the first edit skips what comes before it).
func (t *mp4Track) editShift(movieScale uint32) int64 {
	shift := int64(0)
	for i, e := range t.elst {
		d, m := uint64(e.SegmentDurationV0), int64(e.MediaTimeV0)
		if t.elstV1 {
			d, m = e.SegmentDurationV1, e.MediaTimeV1
		}
		if m == -1 && i == 0 && movieScale > 0 {
			shift -= int64(d * uint64(t.timescale) / uint64(movieScale))
			continue
		}
		return shift + m
	}
	return shift
}

// clip turns the samples into Annex-B access units: each length-prefixed NAL unit gets a start
// code; a sync sample is a key frame, with the sample entry's parameter sets (or the newer ones
// it carries).
func (t *mp4Track) clip(data []byte, samples []mp4Sample, movieScale uint32) (*Clip, error) {
	// Times beyond 11 days are a damaged table (and would overflow a Duration).
	limit := int64(t.timescale) * 1_000_000
	shift := t.editShift(movieScale)
	if shift < -limit || shift > limit {
		shift = 0
	}
	for i, s := range samples {
		if pts := s.dts + s.cto; pts < -limit || pts > limit {
			return nil, fmt.Errorf("picture %d is timed at %d/%d s: the file is damaged", i+1, pts, t.timescale)
		}
	}
	total := uint64(0)
	for _, s := range samples {
		total += s.size
	}
	if total > uint64(len(data)) { // samples overlap: a damaged table would multiply the file
		return nil, fmt.Errorf("the video track's samples add up to %d bytes in a file of %d: the file is damaged", total, len(data))
	}
	c := &Clip{Codec: t.codec}
	// A start code for each length field: at most 4 bytes for a 1-byte length and its byte.
	extra := uint64(0)
	if t.lengthSize < 4 {
		extra = total * uint64(4-t.lengthSize)
	}
	buf := make([]byte, 0, total+extra)
	params := t.params
	first := 0
	for first < len(samples) && !samples[first].sync {
		first++
	}
	if first == len(samples) {
		return nil, errors.New("no key frame in the video track")
	}
	n := len(samples) - first
	c.units, c.key, c.params, c.times = make([]int, 0, n), make([]bool, 0, n), make([][3][]byte, 0, n), make([]time.Duration, 0, n)
	for i, s := range samples[first:] {
		start := len(buf)
		d := data[s.offset : s.offset+s.size]
		for len(d) > 0 {
			if len(d) < t.lengthSize {
				return nil, fmt.Errorf("picture %d: a NAL unit length is cut off", first+i+1)
			}
			l := 0
			for _, b := range d[:t.lengthSize] {
				l = l<<8 | int(b)
			}
			d = d[t.lengthSize:]
			if l > len(d) {
				return nil, fmt.Errorf("picture %d: a NAL unit of %d bytes in %d: the file is damaged", first+i+1, l, len(d))
			}
			nal := d[:l]
			d = d[l:]
			if l == 0 {
				continue
			}
			buf = append(buf, 0, 0, 0, 1)
			buf = append(buf, nal...)
			if s.sync {
				if _, _, _, p := c.classify(nal); p >= 0 {
					params[p] = buf[len(buf)-l:] // buf never grows past its capacity: no copy moves it
				}
			}
		}
		if len(buf) == start {
			continue // an empty sample: no picture
		}
		c.units = append(c.units, start)
		c.key = append(c.key, s.sync)
		c.params = append(c.params, params)
		ts := s.dts + s.cto - shift
		c.times = append(c.times, ticks(ts, t.timescale))
	}
	if len(c.units) == 0 {
		return nil, errors.New("no picture in the video track")
	}
	c.data = buf
	c.presentationOrder()
	// The presentation starts at the first picture kept.
	t0 := c.times[0]
	if t0 < 0 || first > 0 {
		for i := range c.times {
			c.times[i] -= t0
		}
	}
	if len(c.times) > 1 {
		if span := c.times[len(c.times)-1] - c.times[0]; span > 0 {
			c.FPS = float64(len(c.times)-1) / span.Seconds()
		}
	}
	return c, nil
}

// presentationOrder numbers the pictures in the order of their times (c.times, in decoding
// order until then; B-frames are shown before pictures decoded earlier) and puts the times in
// that order. Pictures of the same time keep their decoding order.
func (c *Clip) presentationOrder() {
	c.order = make([]int, len(c.times))
	for u := range c.order {
		c.order[u] = u
	}
	sort.SliceStable(c.order, func(a, b int) bool { return c.times[c.order[a]] < c.times[c.order[b]] })
	c.shown = make([]int64, len(c.order))
	sorted := make([]time.Duration, len(c.order))
	for i, u := range c.order {
		c.shown[u] = int64(i)
		sorted[i] = c.times[u]
	}
	c.times = sorted
}

// ticks converts a time in a track's timescale to a Duration without overflowing for long clips.
func ticks(v int64, scale uint32) time.Duration {
	s := int64(scale)
	return time.Duration(v/s)*time.Second + time.Duration(v%s)*time.Second/time.Duration(s)
}
