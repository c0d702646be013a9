# bench/lib.sh — helpers the bench scripts source.

# median: the median of the numbers on stdin, one a line.
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# chart_preamble FILE WIDTH HEIGHT PANELS: gnuplot's set-up for an SVG of PANELS clustered bar
# charts side by side; the caller's gnuplot script follows with a title and a plot per panel.
chart_preamble() {
  cat <<EOF
set terminal svg size $2,$3 font "sans,11" background rgb "white"
set output "$1"
set multiplot layout 1,$4
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key below
EOF
}
