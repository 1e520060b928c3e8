x,value
0,1
1,2
