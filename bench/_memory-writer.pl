# bench/scale `memory`: one flooding agent. Prints "up" (so orchestra calls it ready), waits for
# the file GO, writes RATE bytes a second for SECONDS seconds (in tenths of a second), then idles.
# `stty -opost` first: the PTY then passes bytes as written (no "\n" -> "\r\n"), so the bytes a
# subscriber receives can be compared with the bytes written.
use strict;
use Time::HiRes qw(time sleep);
my ($go, $rate, $secs) = @ARGV;
system('stty', '-opost') == 0 or die "stty -opost failed\n";
syswrite(STDOUT, "up\n");
sleep 0.05 until -e $go;
my $per = int($rate / 10);
my $block = substr(((('x' x 99) . "\n") x (int($per / 100) + 1)), 0, $per);
my $t0 = time;
for my $i (1 .. int($secs * 10)) {
  for (my $off = 0; $off < $per; ) { $off += syswrite(STDOUT, $block, $per - $off, $off) // die "write: $!\n"; }
  my $left = $t0 + $i / 10 - time;
  sleep $left if $left > 0;
}
sleep 100000 while 1;
