# Groups a flat `perf report --no-children --sort comm,dso,sym -g none --stdio` into the
# categories BENCHMARKS.md talks about. Used by bench/callback.sh (PROFILE=1), which samples
# the server's whole core: `swapper` is idle time, other commands are other processes
# (`-v server=NAME`: the server's own command name when its binary is not `zhanggui`).
function add(cat, pct) { share[cat] += pct; total += pct }
/^ +[0-9.]+%/ {
  pct = $1; sub(/%/, "", pct); pct += 0
  comm = $2; dso = $3; sym = ""
  for (i = 5; i <= NF; i++) sym = sym (i > 5 ? " " : "") $i
  if (comm == "swapper") { idle += pct; next }
  if (comm !~ /^(tokio-|sqlx-|zhanggui|postgres)/ && comm != server) { add("other processes on the core", pct); next }
  if (comm == "postgres" && $4 != "[k]") { add("PostgreSQL backends (user)", pct); next }
  if ($4 == "[k]") {
    if (sym ~ /tcp|^ip_|inet|skb|sock|__dev_|net_|napi|loopback|__netif|nf_|sk_|^__sys_sendto|sendmsg|recvmsg|_copy_to_iter|_copy_from_iter|csum/)
      add("kernel: TCP/loopback", pct)
    else if (sym ~ /sched|switch|futex|wake|_raw_spin|enqueue|dequeue|update_curr|update_load|pick_next|ttwu|select_task|idle|hrtimer|native_write_msr|finish_task/)
      add("kernel: scheduling, futex wake-ups", pct)
    else if (sym ~ /ext4|filemap|folio|vfs_|jbd2|blk|page_cache|generic_perform_write|fsync|__fdget|fdget|iomap|writeback|mpage/)
      add("kernel: file I/O (database)", pct)
    else if (sym ~ /epoll|ep_|poll/)
      add("kernel: epoll", pct)
    else
      add("kernel: other (syscall entry, memory, ...)", pct)
  } else if (comm ~ /^sqlx-sqlite/ && sym !~ /malloc|free|_int_|unlink_chunk|consolidate|^__mem/) {
    add("SQLite + sqlx worker thread (user)", pct)
  } else if (sym ~ /malloc|free|_int_|unlink_chunk|consolidate|realloc|calloc|tcache/) {
    add("malloc/free", pct)
  } else if (sym ~ /^__mem|^memcpy|^memmove|^memset|^__strlen|^memchr/) {
    add("memcpy/memcmp/memchr", pct)
  } else if (sym ~ /aes|Aes|sha1|Sha1|cbc|Cbc|base64|block_buffer|cipher|digest/) {
    add("crypto (AES-CBC, SHA-1, base64)", pct)
  } else if (sym ~ /quick_xml|wechat::xml|wechat::message|wechat::reply|Fields/) {
    add("XML parse/write", pct)
  } else if (sym ~ /^sqlite3|^wal|btree|pager|Vdbe/) {
    add("SQLite (on the runtime thread)", pct)
  } else if (sym ~ /sqlx|flume|postgres|Pg/) {
    add("sqlx (runtime side)", pct)
  } else if (sym ~ /wechat/) {
    add("wechat: signature, query, sealing", pct)
  } else if (sym ~ /metrics|tracing|prometheus|sketches|quanta/) {
    add("metrics, tracing", pct)
  } else if (sym ~ /zhanggui/) {
    add("zhanggui (handler, middleware, state clones)", pct)
  } else if (sym ~ /hyper|axum|tower|http|tokio|futures|mio|bytes|httparse|h2|matchit/) {
    add("hyper/axum/tower/tokio", pct)
  } else {
    add("other", pct)
  }
}
END {
  n = 0
  for (c in share) { names[++n] = c }
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
    if (share[names[j]] > share[names[i]]) { t = names[i]; names[i] = names[j]; names[j] = t }
  if (idle > 0) printf "The core was idle %.1f%% of the time; shares below are of the busy time.\n\n", idle
  printf "| where | share of busy CPU |\n|---|---:|\n"
  for (i = 1; i <= n; i++) printf "| %s | %.1f%% |\n", names[i], share[names[i]] * 100 / total
}
