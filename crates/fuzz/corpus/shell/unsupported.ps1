if ($a -eq 1) { dir } | where {$_.x} ; $h = @{a=1}; $arr = @(1,2), 3; [System.Convert]::ToBase64String($b)
